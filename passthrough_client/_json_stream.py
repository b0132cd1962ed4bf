"""The items of ``client.request(..., stream=True)``: each event's JSON object, as received."""

from __future__ import annotations

from typing import Any, Dict, NoReturn

from ._assemble import CompletionAccumulator

__all__ = ["JSONAccumulator", "JSONObject"]


class JSONObject:
    """The "chunk type" of a raw stream: an event's decoded object is the item itself."""

    @staticmethod
    def from_dict(data: Dict[str, Any]) -> Dict[str, Any]:
        """Return ``data`` unchanged (the stream already checked it is a JSON object)."""
        return data


class JSONAccumulator(CompletionAccumulator):
    """Keeps nothing: events of an unknown endpoint cannot be assembled."""

    WHY = (
        "collect() assembles chat or completion streams only; iterate a stream of "
        "client.request() for its events"
    )

    def add(self, chunk: Any) -> None:
        """Ignore ``chunk``."""

    def add_all(self, chunks: Any) -> None:
        """Ignore ``chunks``."""

    def result(self) -> NoReturn:
        """Raise ``TypeError``: there is nothing to assemble."""
        raise TypeError(self.WHY)
