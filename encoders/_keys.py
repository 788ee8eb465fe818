"""Key-list handling shared by the keyed encoders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from tornsess.errors import ConfigError

KeyInput = str | bytes | Sequence[str | bytes]


def key_list(field: str, keys: KeyInput) -> list[str | bytes]:
    """*keys* as a non-empty list, oldest first (the last one is newest)."""
    if isinstance(keys, (str, bytes)):
        items: list[str | bytes] = [keys]
    elif isinstance(keys, Sequence):
        items = list(cast(Sequence[str | bytes], keys))
    else:
        raise ConfigError(field, f"expected a key or a list of keys, got {type(keys).__name__}")
    if not items:
        raise ConfigError(field, "needs at least one key")
    for item in items:
        if not isinstance(item, (str, bytes)):
            raise ConfigError(field, f"a key must be str or bytes, not {type(item).__name__}")
    return items
