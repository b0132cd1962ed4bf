"""How many examples a property test runs: its own number, scaled by the active profile.

CI runs the whole suite on four stacks; the property tests search with their full
example counts on the default stack and with a quarter of them on the others
(``PT_HYPOTHESIS_PROFILE=quick``, loaded by ``conftest.py``), where they exist to catch
version differences rather than to search deeply. Every property still runs
everywhere.
"""

from __future__ import annotations

from hypothesis import settings

__all__ = ["examples"]

FULL = 100  # the default profile's max_examples


def examples(count: int) -> int:
    """``count`` scaled by the active profile's ``max_examples`` (100 = as written)."""
    return max(10, count * settings.default.max_examples // FULL)
