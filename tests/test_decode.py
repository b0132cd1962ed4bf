"""The bounded Content-Encoding decoder (pure: no sockets)."""

from __future__ import annotations

import gzip
import zlib
from typing import Callable, List

import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from passthrough_client import InvalidResponseError
from passthrough_client._rules.decode import PIECE, decoding_reader, read_limited


def source(data: bytes, size: int) -> Callable[[], bytes]:
    """A reader handing out ``data`` in pieces of ``size`` bytes, then ``b""``."""
    pieces = iter([data[i : i + size] for i in range(0, len(data), size)])
    return lambda: next(pieces, b"")


def raw_deflate(data: bytes) -> bytes:
    encoder = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return encoder.compress(data) + encoder.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": raw_deflate,
}


def encode(data: bytes, names: List[str]) -> bytes:
    for name in names:
        data = ENCODERS[name](data)
    return data


def header(names: List[str]) -> str:
    return ", ".join("deflate" if n == "deflate-raw" else n for n in names)


@settings(max_examples=examples(150), deadline=None)
@given(
    data=st.binary(max_size=5000),
    names=st.lists(st.sampled_from(sorted(ENCODERS)), max_size=3),
    size=st.integers(1, 70000),
)
def test_round_trip_through_any_stack_of_encodings(
    data: bytes, names: List[str], size: int
) -> None:
    """Whatever the layering and however the bytes are split, the body comes back whole."""
    read = decoding_reader(source(encode(data, names), size), header(names))
    assert data == read_limited(read, 10**6, "max_response_bytes")


@settings(max_examples=examples(50), deadline=None)
@given(parts=st.lists(st.binary(max_size=2000), min_size=1, max_size=5), size=st.integers(1, 999))
def test_gzip_members_one_after_another_are_all_decoded(parts: List[bytes], size: int) -> None:
    """A body of several gzip members decodes to all of them joined."""
    body = b"".join(gzip.compress(p) for p in parts)
    read = decoding_reader(source(body, size), "gzip")
    assert b"".join(parts) == read_limited(read, 10**6, "x")


def test_junk_after_a_gzip_member_is_ignored() -> None:
    """Bytes after a complete member that are not gzip are dropped, as urllib3 does."""
    read = decoding_reader(source(gzip.compress(b"hello") + b"\0junk", 3), "gzip")
    assert read_limited(read, 100, "x") == b"hello"


def test_no_encoding_is_the_source_itself() -> None:
    """Identity costs nothing: the reader is the source."""
    read = source(b"abc", 1)
    assert decoding_reader(read, None) is read
    assert decoding_reader(read, " identity ") is read


@pytest.mark.parametrize("name", ["br", "zstd", "compress", "gzip;q=1"])
def test_an_encoding_the_client_cannot_decode_is_refused(name: str) -> None:
    """An unknown Content-Encoding is an InvalidResponseError naming it."""
    with pytest.raises(InvalidResponseError, match="cannot decode"):
        decoding_reader(source(b"x", 1), name)


def test_bytes_that_do_not_match_the_encoding_are_an_error() -> None:
    """A body that is not gzip raises InvalidResponseError, not zlib.error."""
    read = decoding_reader(source(b"this is not gzip at all", 4), "gzip")
    with pytest.raises(InvalidResponseError, match="could not be decoded"):
        read_limited(read, 100, "x")


def test_too_many_layers_are_refused() -> None:
    """More than four layers is no real server's doing."""
    with pytest.raises(InvalidResponseError, match="at most 4"):
        decoding_reader(source(b"x", 1), "gzip, gzip, gzip, gzip, gzip")


def bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros as one gzip member per MiB (built in milliseconds)."""
    return gzip.compress(bytes(2**20), 9) * mib


def test_each_piece_of_a_bomb_is_at_most_one_piece_long() -> None:
    """A gzip-of-gzip bomb hands out at most PIECE bytes per read, never the whole."""
    read = decoding_reader(source(gzip.compress(bomb(64), 9), 65536), "gzip, gzip")
    sizes = [len(read()) for _ in range(100)]
    assert max(sizes) <= PIECE and min(sizes) > 0


@pytest.mark.parametrize("names", [["gzip"], ["gzip", "gzip"], ["deflate"]])
def test_a_bomb_stops_at_the_limit(names: List[str]) -> None:
    """The limit is enforced on decoded bytes, naming the keyword and the limit in digits."""
    body = bomb(64) if names == ["gzip"] else encode(bomb(64), names[1:])
    if names == ["deflate"]:
        body = zlib.compress(bytes(64 * 2**20), 1)
    read = decoding_reader(source(body, 65536), ", ".join(names))
    with pytest.raises(InvalidResponseError, match=r"max_response_bytes \(1048576 bytes\)"):
        read_limited(read, 2**20, "max_response_bytes")


def test_cut_returns_exactly_the_limit() -> None:
    """With ``cut`` (error bodies), the first ``limit`` bytes come back instead of an error."""
    read = decoding_reader(source(bomb(8), 65536), "gzip")
    assert bytes(1000) == read_limited(read, 1000, "x", cut=True)


@pytest.mark.parametrize("size", [1000, 65536, 262144])
def test_large_gzip_members_decode_to_exactly_their_size(size: int) -> None:
    """Members bigger than a piece, read in any split, give back exactly their bytes."""
    read = decoding_reader(source(bomb(8), size), "gzip")
    total = 0
    while True:
        piece = read()
        if not piece:
            break
        assert piece.count(0) == len(piece)
        total += len(piece)
    assert total == 8 * 2**20
