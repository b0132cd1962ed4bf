"""``Secret``: a string that never shows its value (no package imports)."""

from __future__ import annotations

from typing import Any

__all__ = ["MASK", "Secret"]

MASK = "**********"


class Secret:
    """A secret string that never shows its value in ``repr()`` or ``str()``.

    >>> s = Secret("sk-123")
    >>> s
    Secret('**********')
    >>> s.get_secret_value()
    'sk-123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret() takes a string, not {type(value).__name__}")
        self._value = value

    def get_secret_value(self) -> str:
        """Return the wrapped value."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))
