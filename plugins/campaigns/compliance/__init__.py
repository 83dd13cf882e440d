"""Pure compliance checks a dialer runs before every dial: no database, no clock.

``window.decide`` says whether the called person's local time is inside the calling window;
``frequency.FrequencyCap.check`` whether the contact was already called too often. Both answer
with a JSON-able decision carrying a stable rule code, to be stored with the attempt.
"""
