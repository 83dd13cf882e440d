"""Alerts: tenant-defined rules on live figures, evaluated continuously, raised and cleared
as events (``docs/plugins/supervisor.md``, "Alerts")."""
