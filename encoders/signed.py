"""The signed encoder: the session id, timestamped and signed with
itsdangerous (HMAC-SHA256), the cookie name bound into the signature."""

from __future__ import annotations

import hashlib
import hmac
import time

from itsdangerous import TimestampSigner
from itsdangerous.encoding import base64_decode

from tornsess.errors import ConfigError, DecodeError
from tornsess.ids import MAX_ID_LENGTH

from ._keys import KeyedEncoder, KeyInput, key_list

__all__ = ["SignedEncoder"]

MIN_KEY_BYTES = 32
FUTURE_SKEW = 60
_MAX_TOKEN = MAX_ID_LENGTH + 60


class SignedEncoder(KeyedEncoder):
    """Signs the session id with itsdangerous' ``TimestampSigner`` and
    HMAC-SHA256: ``<id>.<timestamp>.<signature>``.

    :param keys: one secret (str or bytes, at least 32 bytes) or a list of
        them, **oldest first**: the last key signs, every key verifies. A
        cookie that verifies under an older key is re-issued under the newest
        key in the same response.
    :param salt: separates these signatures from any other use of the keys;
        the cookie name is added to it, so a value signed for one cookie name
        fails under another.
    :param max_age: if given, reject signatures older than this many seconds
        (an upper bound on a cookie's life, independent of the store).

    Only canonical tokens are accepted: a valid token with ``=`` padding,
    non-ASCII characters or any other re-encoding is rejected, although
    itsdangerous itself accepts such variants. With ``max_age``, timestamps
    more than a minute in the future are rejected too. The id is readable by
    the client (signing gives integrity, not confidentiality).

    :raises tornsess.ConfigError: a key is shorter than 32 bytes, or
        ``max_age`` is not positive.
    """

    def __init__(
        self,
        keys: KeyInput,
        *,
        salt: str = "tornsess.signed-session-id",
        max_age: float | None = None,
    ) -> None:
        items = key_list("keys", keys)
        self._keys = [k.encode("utf-8") if isinstance(k, str) else k for k in items]
        for key in self._keys:
            if len(key) < MIN_KEY_BYTES:
                raise ConfigError(
                    "keys",
                    f"signing keys must be at least {MIN_KEY_BYTES} bytes "
                    "(generate one with `python -m tornsess keygen`)",
                )
        if max_age is not None and not max_age > 0:
            raise ConfigError("max_age", f"must be positive, got {max_age!r}")
        super().__init__(self._keys)
        self._salt = salt
        self._max_age = max_age
        self._signers: dict[str, list[TimestampSigner]] = {}

    def _signers_for(self, cookie_name: str) -> list[TimestampSigner]:
        """One signer per key, newest first, for *cookie_name*.

        Each key is derived once, here, with itsdangerous' own ``"hmac"``
        scheme (``derive_key``: HMAC-SHA256 of the key and the salt, the
        cookie name included), and its signer then uses the derived key as
        it is (``key_derivation="none"``): the same signatures as a signer
        with ``key_derivation="hmac"``, without a second HMAC per signature.
        """
        signers = self._signers.get(cookie_name)
        if signers is None:
            deriving = TimestampSigner(
                self._keys,
                salt=f"{self._salt}\x00{cookie_name}",
                key_derivation="hmac",
                digest_method=hashlib.sha256,
            )
            signers = [
                TimestampSigner(
                    deriving.derive_key(key), key_derivation="none", digest_method=hashlib.sha256
                )
                for key in reversed(deriving.secret_keys)
            ]
            self._signers[cookie_name] = signers
        return signers

    def encode(self, cookie_name: str, session_id: str) -> str:
        """Sign *session_id* for *cookie_name* with the newest key."""
        return self._signers_for(cookie_name)[0].sign(session_id).decode("ascii")

    def _decode(self, cookie_name: str, cookie_value: str) -> tuple[str, bool, float | None]:
        if type(cookie_value) is not str or len(cookie_value) > _MAX_TOKEN:
            raise DecodeError("not a signed session id")
        payload, dot, signature = cookie_value.rpartition(".")
        if not dot:
            raise DecodeError("not a signed session id")
        # Non-ASCII text fails to encode: DecodeError through decode_stale.
        data, given = payload.encode("ascii"), signature.encode("ascii")
        # itsdangerous' get_signature writes canonical base64 (no padding),
        # so comparing the exact text also rejects padded or re-encoded
        # variants of a valid token, which its verify_signature accepts.
        for index, signer in enumerate(self._signers_for(cookie_name)):
            if hmac.compare_digest(signer.get_signature(data), given):
                stale = index > 0
                break
        else:
            raise DecodeError("bad signature")
        # The signature covers the exact text of id and timestamp, so neither
        # can have been altered without the key; the timestamp only matters
        # for max_age.
        session_id, dot, stamp = payload.rpartition(".")
        if not dot:
            raise DecodeError("no timestamp")
        if self._max_age is None:
            return session_id, stale, None
        timestamp = int.from_bytes(base64_decode(stamp), "big")
        now = time.time()
        if timestamp > now + FUTURE_SKEW:
            raise DecodeError("signature from the future")
        if now - timestamp > self._max_age:
            raise DecodeError("signature expired")
        return session_id, stale, timestamp + self._max_age

    def __repr__(self) -> str:
        return f"SignedEncoder(<{len(self._keys)} key(s)>, max_age={self._max_age!r})"
