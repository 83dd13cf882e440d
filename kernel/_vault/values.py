"""A decrypted secret that does not leak through ``repr``, ``str``, f-strings or logs."""

from __future__ import annotations

from typing import ClassVar, NoReturn

MASK = "**********"


class SecretValue:
    """What the vault hands a plugin. Call :meth:`reveal` at the moment of use (building a
    provider client, signing a request); everything else prints a mask.

    The ``__kraliki_secret__`` marker lets the log formatter redact it wherever it appears.
    """

    __slots__ = ("_value",)
    __kraliki_secret__: ClassVar[bool] = True

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, _spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        # Constant-time, so comparing a presented credential with a stored one is safe.
        import hmac

        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(type(self))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled (it would leave the process in clear)")
