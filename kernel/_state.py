"""Typed per-platform plugin state: one accessor pattern instead of raw dictionary lookups.

A plugin declares a module-level ``StateKey`` once, sets it in ``kraliki_configure`` and reads
it wherever it holds a :class:`kernel.Platform`. The key carries the value's type, so readers
need no cast, and a read before ``kraliki_configure`` ran fails with an error that names the
plugin instead of a bare ``KeyError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from kernel._errors import PluginError

if TYPE_CHECKING:
    from kernel._platform import Platform

T = TypeVar("T")


class PluginStateError(PluginError):
    """A plugin's state was read on a platform where the plugin never configured it."""


class StateKey(Generic[T]):
    """The name under which a plugin keeps one object of type ``T`` on a platform.

    ``CALLS = StateKey[CallsState]("calls")``; ``CALLS.set(platform, state)`` in
    ``kraliki_configure``; ``CALLS.get(platform)`` elsewhere.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not name:
            raise ValueError("a state key needs a name (by convention the plugin's name)")
        self.name = name

    def set(self, platform: Platform, value: T) -> T:
        """Keep ``value`` on ``platform`` (replacing an earlier one) and return it."""
        platform.state[self.name] = value
        return value

    def get(self, platform: Platform) -> T:
        """The value kept on ``platform``; :class:`PluginStateError` when none was set."""
        try:
            value: T = platform.state[self.name]
        except KeyError:
            raise PluginStateError(
                f"plugin state {self.name!r} is not configured on this platform "
                "(is the plugin loaded, and did its kraliki_configure run?)"
            ) from None
        return value

    def is_set(self, platform: Platform) -> bool:
        """Whether a value is kept on ``platform`` under this key."""
        return self.name in platform.state

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"
