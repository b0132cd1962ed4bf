"""Content-Encoding decoding with bounded output (pure: bytes in, bytes out).

urllib3 decodes a compressed body in one go: a few kilobytes of gzip-of-gzip, or a
megabyte of gzip, expand to a gigabyte before anyone can count it. Here every
decompression step is called with ``max_length``, so no step ever produces more than
:data:`PIECE` bytes at a time; the caller counts the pieces against its limit and
stops. Supported: ``gzip`` (also several members one after another), ``deflate``
(zlib-wrapped, as the RFC says, or raw, as some servers send it), ``identity``, and
any stack of them (``Content-Encoding: gzip, gzip``). These are exactly what the
client asks for with ``Accept-Encoding``; anything else is refused.

Example::

    >>> import gzip
    >>> read = decoding_reader(iter([gzip.compress(b"hello")]).__next__, "gzip")
    >>> read(), read()
    (b'hello', b'')
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, List, Optional

from ..exceptions import InvalidResponseError

__all__ = ["ACCEPT_ENCODING", "PIECE", "Source", "decoding_reader", "read_limited"]

#: What the client asks for: only what this module can decode.
ACCEPT_ENCODING = "gzip, deflate"
#: The most a decompression step hands out at a time.
PIECE = 65536
MAX_ENCODINGS = 4  # a longer stack is no real server's doing

#: Returns the next bytes, ``b""`` at the end.
Source = Callable[[], bytes]

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


def _encodings(header: Optional[str]) -> List[str]:
    """The codings to undo, in the order to undo them (the last applied first)."""
    names = [n.strip().lower() for n in (header or "").split(",")]
    names = [n for n in names if n and n != "identity"]
    for name in names:
        if name not in ("gzip", "x-gzip", "deflate"):
            raise InvalidResponseError(
                f"the response uses Content-Encoding {name[:40]!r}, which the client did not "
                f"ask for and cannot decode (it accepts {ACCEPT_ENCODING})"
            )
    if len(names) > MAX_ENCODINGS:
        raise InvalidResponseError(
            f"the response is encoded {len(names)} times over (at most {MAX_ENCODINGS} "
            "Content-Encoding layers are decoded)"
        )
    return names[::-1]


class _Inflater:
    """One layer of gzip or deflate, pulling compressed bytes from ``source``."""

    __slots__ = ("_d", "_discard", "_gzip", "_later", "_name", "_source", "_tail")

    def __init__(self, source: Source, name: str) -> None:
        self._source = source
        self._name = name
        self._gzip = name != "deflate"
        # deflate: zlib or raw is chosen once the first two bytes are in
        self._d: Optional[Any] = zlib.decompressobj(_GZIP) if self._gzip else None
        self._tail = b""  # compressed bytes not yet given to the decompressor
        self._later = False  # past the first gzip member
        self._discard = False  # what follows the data is read (to the end) and dropped

    def read(self) -> bytes:
        """The next decoded piece (at most :data:`PIECE` bytes), ``b""`` at the end."""
        while True:
            if self._tail and not self._discard:
                out = self._step()
                if out:
                    return out
                if self._tail:
                    continue
            data = self._source()
            if not data:
                return b""
            self._tail = data

    def _step(self) -> bytes:
        """Decompress from the tail; may consume it without any output yet."""
        d = self._d
        if d is None:
            if len(self._tail) < 2:
                self._tail += self._source()  # b"" at the end: then it stays short
                if len(self._tail) < 2:
                    self._discard = True
                    return b""
            d = self._d = zlib.decompressobj(_ZLIB if _is_zlib(self._tail) else _RAW)
        try:
            out: bytes = d.decompress(self._tail, PIECE)
        except zlib.error as exc:
            if self._later:  # junk after a complete gzip member: ignored, as urllib3 does
                self._tail, self._discard = b"", True
                return b""
            raise InvalidResponseError(
                f"the response body could not be decoded: it does not match its "
                f"Content-Encoding ({self._name}: {exc})"
            ) from None
        if d.eof:  # at the end, unconsumed_tail is stale: what follows is in unused_data
            self._tail = d.unused_data
            self._next_member()
        else:
            self._tail = d.unconsumed_tail
        return out

    def _next_member(self) -> None:
        """After the end of a gzip member, another may follow; deflate has just one."""
        if self._gzip:
            self._d = zlib.decompressobj(_GZIP)
            self._later = True
        else:
            self._tail, self._discard = b"", True


def _is_zlib(head: bytes) -> bool:
    """Whether a deflate body starts with a zlib header (RFC 1950) rather than raw data."""
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0


def decoding_reader(source: Source, content_encoding: Optional[str]) -> Source:
    """A reader of the decoded body of ``source``, for the given ``Content-Encoding``.

    Without an encoding (or ``identity``) it is ``source`` itself: no cost at all.
    Each call of the returned reader hands out at most :data:`PIECE` decoded bytes
    per layer. Raises :class:`InvalidResponseError` for an encoding the client cannot
    decode, or for bytes that do not match it.
    """
    read = source
    for name in _encodings(content_encoding):
        read = _Inflater(read, name).read
    return read


def read_limited(read: Source, limit: int, what: str, *, cut: bool = False) -> bytes:
    """Everything ``read`` returns, joined; at most ``limit`` bytes are ever kept.

    Past the limit: with ``cut``, the first ``limit`` bytes are returned (and the rest
    is not read); otherwise :class:`InvalidResponseError` is raised, naming the limit
    and ``what`` (the keyword that sets it).
    """
    pieces: List[bytes] = []
    size = 0
    while True:
        data = read()
        if not data:
            break
        size += len(data)
        if size > limit:
            if cut:
                pieces.append(data[: len(data) - (size - limit)])
                break
            raise too_large(limit, what)
        pieces.append(data)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def too_large(limit: int, what: str) -> InvalidResponseError:
    """The error for a body or event over its limit."""
    return InvalidResponseError(
        f"the response is larger than {what} ({limit} bytes); it was not read further"
    )
