"""The masking rules of ``_mask`` (pure, DESIGN §6): every secret a call knows is shown
as ``**********`` in text the service or a proxy sends back."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passthrough_client import APIStatusError, InvalidResponseError, StreamError
from passthrough_client._rules.mask import MASK, NO_MASK, Masker, proxy_secrets


def test_a_secret_is_masked_wherever_it_appears() -> None:
    """Every occurrence is replaced; the text around it stays."""
    masker = Masker(["sk-abc123"])
    assert masker("key sk-abc123 and sk-abc123!") == f"key {MASK} and {MASK}!"


def test_no_mask_and_empty_secrets_change_nothing() -> None:
    """An empty masker (or one of empty strings) returns the text as it is."""
    assert (NO_MASK("sk-abc123"), Masker(["", ""])("text")) == ("sk-abc123", "text")
    assert (bool(NO_MASK), bool(Masker(["x1234"]))) == (False, True)


def test_a_secret_inside_another_is_masked_with_the_longer_one() -> None:
    """Substrings of each other: the longest wins, nothing of it shows."""
    masker = Masker(["token", "token-long-value", "long"])
    assert masker("a token-long-value b token c long") == f"a {MASK} b {MASK} c {MASK}"


def test_overlapping_secrets_are_masked_as_one() -> None:
    """Two secrets that overlap in the text are merged: no piece of either shows."""
    masker = Masker(["abcdef", "defghi"])
    assert masker("x abcdefghi y") == f"x {MASK} y"


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ('se"cret\\1', json.dumps('se"cret\\1')[1:-1]),
        ("s\u00e9cret\n12", repr("s\u00e9cret\n12")[1:-1]),
        ("a b/c?d=e&f", "a%20b%2Fc%3Fd%3De%26f"),
    ],
)
def test_escaped_spellings_are_masked(secret: str, shown: str) -> None:
    """JSON-, repr- and percent-escaped spellings of a secret are masked too."""
    assert Masker([secret])(f"[{shown}]") == f"[{MASK}]"


@pytest.mark.parametrize("text", ["cut here sk-abc1...", "cut here sk-abc12", "x sk-a"])
def test_the_start_of_a_secret_at_the_end_of_a_cut_text_is_masked(text: str) -> None:
    """A text cut for display never ends with the first characters of a secret."""
    masked = Masker(["sk-abc123456"])(text)
    assert "sk-a" not in masked and MASK in masked


def test_a_short_common_ending_is_not_taken_for_a_secret() -> None:
    """Fewer than four characters of a secret's start at the end are left alone."""
    assert Masker(["sk-abc123456"])("ends with sk-") == "ends with sk-"


def test_cut_masks_before_cutting() -> None:
    """``cut`` masks the whole text first, so the cut cannot split a secret open."""
    masker = Masker(["SECRET-VALUE-42"])
    text = "x" * 10 + "SECRET-VALUE-42" + "y" * 10
    assert masker.cut(text, 15) == "x" * 10 + MASK[:5]


def test_for_call_masks_forwarded_values_of_eight_characters_or_more() -> None:
    """Forwarded values under 8 characters are common words and stay; longer ones and the
    credential of a ``scheme credential`` value are masked; the key always is."""
    masker = Masker.for_call(
        api_key="k1", forwarded=["en-US", "tenant-000111", "Bearer tok-9876543"]
    )
    text = "k1 en-US tenant-000111 tok-9876543"
    assert masker(text) == f"{MASK} en-US {MASK} {MASK}"


def test_proxy_secrets_include_decoded_password_and_basic_token() -> None:
    """A proxy password as written, percent-decoded, and as its Basic token."""
    secrets = proxy_secrets(["http://bob:p%40ss-word@proxy:3128", "http://proxy:8080"])
    token = base64.b64encode(b"bob:p@ss-word").decode()
    assert set(secrets) == {"p%40ss-word", "p@ss-word", token}


@pytest.mark.parametrize(
    "error",
    [
        APIStatusError("key sk-abc123 rejected", status_code=401, body="sk-abc123"),
        InvalidResponseError("not JSON: sk-abc123"),
        StreamError("error: sk-abc123", body={"k": "sk-abc123"}),
    ],
)
def test_rewrite_masks_message_and_args_but_keeps_the_body(error: Exception) -> None:
    """An exception's str, repr and .message are masked in place; .body is untouched."""
    Masker(["sk-abc123"]).rewrite(error)
    shown = (str(error), repr(error), getattr(error, "message", ""))
    assert not any("sk-abc123" in s for s in shown)
    assert "sk-abc123" in repr(getattr(error, "body", "sk-abc123"))


# Secrets without the mask's own character: a secret such as "****" would be "found" in
# the mask that replaced it (the mask shows nothing of it, but the check could not tell).
_SECRET_CHARS = st.characters().filter(lambda c: c != MASK[0])


@given(
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    secret=st.text(_SECRET_CHARS, min_size=4, max_size=20),
    cut=st.integers(min_value=0, max_value=80),
)
def test_a_secret_never_survives_masking_and_cutting(
    before: str, after: str, secret: str, cut: int
) -> None:
    """Property: a secret anywhere in a text never shows after ``cut``, whole or as its
    first four or more characters at the end."""
    shown = Masker([secret]).cut(before + secret + after, cut)
    assert secret not in shown
    assert not any(shown.endswith(secret[:n]) for n in range(4, len(secret) + 1))
