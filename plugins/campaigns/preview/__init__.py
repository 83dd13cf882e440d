"""Preview mode: an agent sees the next contact (history, consent, local time, the check
before the dial) and calls it, skips it or schedules a callback of their own. Routes in
:mod:`.api`, the work in :mod:`.work`, the agent-first call's turns in :mod:`.turns`."""
