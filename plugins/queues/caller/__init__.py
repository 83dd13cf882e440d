"""The caller's side of a queue: the ``queues`` call handler (entering, the hold loop with its
announcements, music and callback key, overflow, abandonment), the IVR's ``queues.enqueue``
node and putting a live call in a queue over the API. Routing (offers, agents, bridging) is
``plugins.queues.routing``'s."""
