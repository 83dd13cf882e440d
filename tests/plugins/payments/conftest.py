"""Payments tests: the real ``stripe`` SDK against the Stripe stand-in, through HTTP."""

from __future__ import annotations

from payments_suite import kraliki_extra_plugins, kraliki_installed_plugins, payments, stand_in

__all__ = ["kraliki_extra_plugins", "kraliki_installed_plugins", "payments", "stand_in"]
