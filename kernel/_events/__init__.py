"""Domain events: the transactional outbox, the dispatcher and the catalogue (internal;
plugins use ``kernel.Event``, ``platform.events.publish`` and the ``kraliki_event`` hook)."""
