"""The live wallboard: one snapshot route (``GET /supervisor/wallboard``) and a static page
(``/supervisor/wallboard/page/``) that follows the real-time stream from that snapshot on.
See ``docs/plugins/supervisor.md#the-wallboard``."""
