"""Background work due per tenant: wake-ups any worker can claim (internal; plugins use
``kernel.JobTopic``, ``platform.jobs.wake`` and the ``kraliki_jobs`` hook)."""
