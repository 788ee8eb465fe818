"""Key-list handling shared by the keyed encoders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from tornsess.errors import ConfigError, DecodeError

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


class KeyedEncoder:
    """``decode`` and ``decode_stale`` for an encoder with key lists, around
    its ``_decode``; any exception but ``DecodeError`` becomes ``DecodeError``,
    whatever the input (the libraries underneath raise assorted types)."""

    def _decode(self, cookie_name: str, cookie_value: str) -> tuple[str, bool]:
        raise NotImplementedError

    def decode(self, cookie_name: str, cookie_value: str) -> str:
        """The session id in *cookie_value*; ``DecodeError`` if there is none."""
        return self.decode_stale(cookie_name, cookie_value)[0]

    def decode_stale(self, cookie_name: str, cookie_value: str) -> tuple[str, bool]:
        """Like :meth:`decode`, plus whether a key other than the newest was
        needed (the manager then re-issues the cookie)."""
        try:
            return self._decode(cookie_name, cookie_value)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"undecodable value ({type(exc).__name__})") from None
