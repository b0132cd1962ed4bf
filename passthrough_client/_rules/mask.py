"""Secrets masked in text that a service or a proxy sends back (pure).

A service may quote the API key in its error message ("Incorrect API key provided:
sk-..."), a gateway may echo a forwarded tenant token, a proxy its credentials. A
:class:`Masker` is built per call from every secret the client knows for that call —
the API key in use, proxy passwords, forwarded header values of 8 characters or more —
and replaces each of them, wherever it appears in such text, with ``**********``.
``.body`` attributes keep what was received; only shown text is masked.

Rules: occurrences of several secrets that overlap or nest are merged and masked as
one (so no piece of either shows); the escaped spellings that messages and snippets
use (``repr``, JSON, percent-encoding) are masked too; and a text cut short for
display that ends with the start of a secret has that start masked.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any, Iterable, Iterator, Optional
from urllib.parse import quote, unquote, urlsplit

from ..exceptions import PassthroughError

__all__ = ["MASK", "MIN_FORWARDED", "NO_MASK", "Masker", "proxy_secrets"]

MASK = "**********"
MIN_FORWARDED = 8  # shorter forwarded values ("1", "en", "true") are too common to mask
_MIN_TAIL = 4  # the shortest start of a secret masked at the end of a cut text


class Masker:
    """Replaces known secrets in text with ``**********``.

    ``Masker(["sk-123", ...])``; ``masker(text)`` returns the masked text, and
    :meth:`rewrite` masks an exception's message in place. An empty masker returns
    text unchanged. Built per call, cheaply: the spellings are computed on first use.
    """

    __slots__ = ("_given", "_spellings")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._given = tuple(s for s in secrets if isinstance(s, str) and s)
        self._spellings: Optional[tuple[str, ...]] = None

    @classmethod
    def for_call(
        cls,
        *,
        api_key: Optional[str] = None,
        forwarded: Iterable[str] = (),
        others: Iterable[str] = (),
    ) -> Masker:
        """A masker for one call: its API key, its forwarded header values (those of
        8 characters or more, and the credential of an ``Authorization``-style
        ``scheme credential`` value) and ``others`` (proxy passwords)."""
        secrets = [api_key or "", *others]
        for value in forwarded:
            if len(value) >= MIN_FORWARDED:
                secrets.append(value)
                _, _, credential = value.partition(" ")
                if len(credential) >= MIN_FORWARDED and " " not in credential:
                    secrets.append(credential)
        return cls(secrets)

    def __bool__(self) -> bool:
        return bool(self._given)

    def __repr__(self) -> str:
        return f"<Masker of {len(self._given)} secrets>"

    def __call__(self, text: str) -> str:
        """``text`` with every secret (in any of its spellings) masked."""
        if not self._given or not text:
            return text
        spellings = self._all_spellings()
        spans = _merge(_occurrences(text, spellings))
        if spans:
            parts, last = [], 0
            for start, end in spans:
                parts += [text[last:start], MASK]
                last = end
            text = "".join(parts) + text[last:]
        return _mask_tail(text, spellings)

    def cut(self, text: str, limit: int) -> str:
        """``text`` masked, then cut to ``limit`` characters (masking first: a cut must
        never leave the start of a secret in view)."""
        masked = self(text)
        return masked if len(masked) <= limit else masked[:limit]

    def rewrite(self, error: BaseException) -> BaseException:
        """Mask an exception's text in place (``args`` and ``.message``); returns it."""
        if not self._given:
            return error
        error.args = tuple(self(a) if isinstance(a, str) else a for a in error.args)
        message: Any = getattr(error, "message", None)
        if isinstance(message, str):
            error.message = self(message)  # type: ignore[attr-defined]
        return error

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Mask the text of any of this package's exceptions raised inside the block."""
        try:
            yield
        except PassthroughError as exc:
            self.rewrite(exc)
            raise

    def _all_spellings(self) -> tuple[str, ...]:
        if self._spellings is None:
            found = set()
            for secret in self._given:
                found.update(_spellings(secret))
            # longest first: a secret that contains another is masked whole
            self._spellings = tuple(sorted(found, key=lambda s: (-len(s), s)))
        return self._spellings


NO_MASK = Masker()


def proxy_secrets(proxy_urls: Iterable[str]) -> tuple[str, ...]:
    """The passwords in proxy URLs (as written and decoded) and the ``Basic`` tokens
    they are sent as, for :meth:`Masker.for_call`'s ``others``."""
    found: list[str] = []
    for url in proxy_urls:
        try:
            parts = urlsplit(url)
            user, password = parts.username, parts.password
        except ValueError:
            continue
        if password:
            plain_user, plain_password = unquote(user or ""), unquote(password)
            token = base64.b64encode(f"{plain_user}:{plain_password}".encode()).decode()
            found += [password, plain_password, token]
    return tuple(found)


def _spellings(secret: str) -> set[str]:
    """The ways a secret may appear in shown text: as is, and escaped."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe="")}
    return {f for f in forms if f}


def _occurrences(text: str, spellings: tuple[str, ...]) -> list[tuple[int, int]]:
    spans = []
    for secret in spellings:
        start = text.find(secret)
        while start >= 0:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans joined, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _mask_tail(text: str, spellings: tuple[str, ...]) -> str:
    """Mask the start of a secret left at the end of a text cut for display."""
    body, dots = (text[:-3], "...") if text.endswith("...") else (text, "")
    for secret in spellings:
        for size in range(len(secret) - 1, _MIN_TAIL - 1, -1):
            if body.endswith(secret[:size]):
                return body[:-size] + MASK + dots
    return text
