"""Key-list handling shared by the keyed encoders."""

from __future__ import annotations

import hmac
import time
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


VERIFIED_CACHE = 4096
"""How many verified cookie values a keyed encoder remembers (see
:class:`KeyedEncoder`)."""


class KeyedEncoder:
    """``decode`` and ``decode_stale`` for an encoder with key lists, around
    its ``_decode``; any exception but ``DecodeError`` becomes ``DecodeError``,
    whatever the input (the libraries underneath raise assorted types).

    A browser sends the same cookie value on every request of its session,
    so the encoder remembers the last :data:`VERIFIED_CACHE` values that
    verified, with what they decoded to, and answers them again without the
    cryptography. Only values that passed verification are remembered, keyed
    by their exact text: a forged or altered value never matches one (a dict
    lookup compares text only after a 64-bit hash match, so its timing tells
    nothing about a remembered value). A value with a time limit (the signed
    encoder's ``max_age``) is remembered with it, and is refused once it has
    passed. The keys of an encoder never change, so neither does an answer.
    """

    verified_cache = VERIFIED_CACHE
    """How many verified values this encoder remembers; 0 verifies every
    request."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self._secrets = list(secrets)  # oldest first
        self._verified: dict[str, tuple[str, tuple[str, bool], float | None]] = {}

    def derive_keys(self, purpose: str) -> list[bytes]:
        """One key for *purpose* from each of this encoder's keys, newest
        first (HMAC-SHA256 of the key and the purpose): for secrets beside
        the cookie, such as the user tags of device lists
        (:func:`tornsess.ids.user_tag`), so that the cookie keys serve the
        cookie only, and a rotation of them reaches the derived keys too."""
        label = b"tornsess derived key\x00" + purpose.encode("utf-8")
        return [hmac.digest(key, label, "sha256") for key in reversed(self._secrets)]

    def _decode(self, cookie_name: str, cookie_value: str) -> tuple[str, bool, float | None]:
        """The id, whether an older key was needed, and until when (a
        :func:`time.time`) the answer holds, ``None`` for ever."""
        raise NotImplementedError

    def decode(self, cookie_name: str, cookie_value: str) -> str:
        """The session id in *cookie_value*; ``DecodeError`` if there is none."""
        return self.decode_stale(cookie_name, cookie_value)[0]

    def decode_stale(self, cookie_name: str, cookie_value: str) -> tuple[str, bool]:
        """Like :meth:`decode`, plus whether a key other than the newest was
        needed (the manager then re-issues the cookie)."""
        verified = self._verified
        try:
            hit = verified.get(cookie_value)
        except TypeError:  # unhashable: not a cookie value at all
            hit = None
        if hit is not None and hit[0] == cookie_name and (hit[2] is None or time.time() <= hit[2]):
            return hit[1]
        try:
            session_id, stale, until = self._decode(cookie_name, cookie_value)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"undecodable value ({type(exc).__name__})") from None
        answer = (session_id, stale)
        limit = self.verified_cache
        if limit > 0:
            if len(verified) >= limit:
                try:
                    del verified[next(iter(verified))]  # the oldest
                except (KeyError, RuntimeError, StopIteration):  # another thread got there
                    pass
            verified[cookie_value] = (cookie_name, answer, until)
        return answer
