"""How responses and streams show in IPython and Jupyter: a short summary, as text and HTML.

IPython's pretty printer walks the class's MRO and stops at the first class that has
``_repr_pretty_`` *or* ``__repr__`` in its own ``__dict__``. attrs writes a
``__repr__`` into every class it builds, so a ``_repr_pretty_`` inherited from a
base class is never reached: :func:`displayed` puts both display methods into the
decorated class itself. The HTML form is a small table whose every value is escaped
(a reply's content is text from the service, and may hold markup).
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, TypeVar

__all__ = ["Rows", "displayed", "html_table", "repr_html", "repr_pretty", "shown"]

#: The rows of a summary table: ``(label, value)`` pairs, both plain text.
Rows = List[Tuple[str, str]]
_C = TypeVar("_C", bound=type)
_TEXT_MAX = 300
_CELL = '<td style="text-align:left;white-space:pre-wrap">'


def shown(text: Optional[str]) -> str:
    """``text`` for a table cell: ``None`` as ``None``, cut after 300 characters."""
    if text is None:
        return "None"
    return text if len(text) <= _TEXT_MAX else text[:_TEXT_MAX] + "…"


def html_table(title: str, rows: Sequence[Tuple[str, str]]) -> str:
    """An HTML table with ``title`` as its caption and one row per ``(label, value)``."""
    import html  # imported on use (about 2 ms at import): only notebooks display tables

    escape = html.escape
    body = "".join(
        f'<tr><th style="text-align:left">{escape(label)}</th>{_CELL}{escape(value)}</td></tr>'
        for label, value in rows
    )
    return f'<table><caption style="text-align:left">{escape(title)}</caption>{body}</table>'


def repr_pretty(self: Any, printer: Any, cycle: bool) -> None:
    """IPython's text display: the short summary of ``str(self)``."""
    printer.text(str(self))


def repr_html(self: Any) -> str:
    """Jupyter's HTML display: the summary rows of ``self`` as an escaped table."""
    return html_table(type(self).__name__, self._summary_rows())


def displayed(cls: _C) -> _C:
    """Give ``cls`` (with ``__str__`` and ``_summary_rows``) its IPython/Jupyter displays."""
    # Set on the class itself, after attrs built it: see the module docstring.
    setattr(cls, "_repr_pretty_", repr_pretty)  # noqa: B010 - mypy: no such attribute
    setattr(cls, "_repr_html_", repr_html)  # noqa: B010
    return cls
