"""Stripe payments: for now only the local stand-in for tests (:mod:`plugins.stripe.testing`)."""
