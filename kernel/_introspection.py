"""What is installed and what each route requires: for the CLI and the docs."""

from __future__ import annotations

from typing import Any

from kernel._auth import PLUGIN_ATTRIBUTE, api_routes, route_access, websocket_routes
from kernel._errors import PluginError
from kernel._plugins import describe_source, installed_plugins
from kernel._settings import Settings


def route_table(settings: Settings, plugins: list[Any] | None = None) -> list[dict[str, str]]:
    """(method, path, access, plugin) of every API and WebSocket (``WS``) route of the app
    these settings build."""
    from kernel._app import create_app

    app = create_app(settings, plugins=plugins)
    rows: list[dict[str, str]] = []
    for route in api_routes(app):
        permission, reason = route_access(route)
        access = f"requires {permission}" if permission else f"public: {reason}"
        for method in sorted(route.methods or ()):
            rows.append(
                {
                    "method": method,
                    "path": route.path or "",
                    "access": access,
                    "plugin": route.tags[0] if route.tags else "kernel",
                }
            )
    for socket in websocket_routes(app):
        permission, _ = route_access(socket)
        rows.append(
            {
                "method": "WS",
                "path": socket.path or "",
                "access": f"requires {permission} (checked in the protocol)",
                "plugin": getattr(socket.original_route, PLUGIN_ATTRIBUTE, None) or "kernel",
            }
        )
    return sorted(rows, key=lambda r: (r["path"], r["method"]))


def describe_plugins(settings: Settings) -> dict[str, Any]:
    """Every installed plugin (disabled ones too) and the error that stops loading, if any."""
    available = installed_plugins()
    enabled = set(settings.plugins) if settings.plugins is not None else None
    load_error: PluginError | None = None
    try:
        routes = route_table(settings) if available else []
    except PluginError as exc:
        routes, load_error = [], exc
    rows = []
    for source in available:
        info, permissions = describe_source(source)
        is_enabled = enabled is None or info.name in enabled
        rows.append(
            {
                "name": info.name,
                "version": info.version,
                "description": info.description,
                "requires": list(info.requires),
                "distribution": source.distribution,
                "enabled": is_enabled,
                "routes": [
                    {"method": r["method"], "path": r["path"], "access": r["access"]}
                    for r in routes
                    if r["plugin"] == info.name
                ],
                "permissions": [p.key for p in permissions],
                "error": _error_for(info.name, load_error) if is_enabled else None,
            }
        )
    return {
        "plugins": sorted(rows, key=lambda r: r["name"]),
        "error": str(load_error) if load_error else None,
    }


def _error_for(name: str, error: PluginError | None) -> str | None:
    """The load error to show on a plugin's row: its own, or the platform's if unattributed."""
    if error is None:
        return None
    involved = getattr(error, "plugin", None) or getattr(error, "plugins", None)
    if involved is None:
        return str(error)
    names = {involved} if isinstance(involved, str) else set(involved)
    return str(error) if name in names else None
