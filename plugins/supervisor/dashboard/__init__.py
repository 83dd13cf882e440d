"""The dashboard: a day's or a range's figures in the organization's time zone, recent
activity and alerts (``docs/plugins/supervisor.md``, "The dashboard")."""
