"""Registries of names that must be unique across plugins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from kernel._errors import PluginConflictError

T = TypeVar("T")


class UniqueRegistry(Generic[T]):
    """Maps a name to (owning plugin, value); a second claim on a name fails loudly.

    Plugins that add their own extension points (telephony providers, LLM providers, IVR
    node types) use one of these so that a clash is a startup error naming both plugins.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, tuple[str, T]] = {}

    def register(self, name: str, value: T, *, plugin: str) -> None:
        if name in self._entries:
            raise PluginConflictError(self.kind, name, self._entries[name][0], plugin)
        self._entries[name] = (plugin, value)

    def get(self, name: str) -> T:
        return self._entries[name][1]

    def owner(self, name: str) -> str:
        return self._entries[name][0]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, str, T]]:
        """(name, plugin, value) triples in registration order."""
        return [(name, plugin, value) for name, (plugin, value) in self._entries.items()]
