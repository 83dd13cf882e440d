"""Errors raised while loading plugins: each names the plugins involved."""


class PluginError(RuntimeError):
    """Base class of plugin loading errors: the platform refuses to start."""


class PluginLoadError(PluginError):
    """A plugin could not be imported or did not describe itself."""


class UnknownRevisionError(PluginError):
    """The database records a revision no loaded branch knows (a plugin removed or left out)."""


class MissingRequirementError(PluginError):
    """A plugin requires another plugin that is not loaded, or not in the right version."""

    def __init__(self, plugin: str, requirement: str, reason: str) -> None:
        self.plugin = plugin
        self.requirement = requirement
        super().__init__(f"plugin {plugin!r} requires {requirement!r}, {reason}")


class PluginConflictError(PluginError):
    """Two plugins claimed the same unique name (route prefix, permission, provider, ...)."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        self.kind = kind
        self.name = name
        self.plugins = (first, second)
        super().__init__(
            f"{kind} {name!r} is registered by both plugin {first!r} and plugin {second!r}"
        )
