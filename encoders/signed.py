"""The signed encoder: the session id, timestamped and signed with
itsdangerous (HMAC-SHA256), the cookie name bound into the signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from itsdangerous import TimestampSigner
from itsdangerous.encoding import base64_decode, bytes_to_int

from tornsess.errors import ConfigError, DecodeError
from tornsess.ids import MAX_ID_LENGTH, is_valid_id

from ._keys import KeyedEncoder, KeyInput, key_list

__all__ = ["SignedEncoder"]

MIN_KEY_BYTES = 32
FUTURE_SKEW = 60
_TOKEN_RE = re.compile(r"[A-Za-z0-9._-]+\.[A-Za-z0-9_-]{1,11}\.[A-Za-z0-9_-]{43}")
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
    itsdangerous itself accepts such variants. Timestamps more than a minute
    in the future are rejected. The id is readable by the client (signing
    gives integrity, not confidentiality).

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
        self._salt = salt
        self._max_age = max_age
        self._signers: dict[str, list[TimestampSigner]] = {}
        self._verify_keys: dict[str, list[bytes]] = {}

    def _signers_for(self, cookie_name: str) -> list[TimestampSigner]:
        """One signer per key, newest first. The key derivation (HMAC of the
        key and the salt, itsdangerous' ``"hmac"`` scheme) is done once here
        instead of on every signature."""
        signers = self._signers.get(cookie_name)
        if signers is None:
            salt = f"{self._salt}\x00{cookie_name}".encode()
            signers = [
                TimestampSigner(
                    hmac.digest(key, salt, "sha256"),
                    salt=salt,
                    key_derivation="none",
                    digest_method=hashlib.sha256,
                )
                for key in reversed(self._keys)
            ]
            self._signers[cookie_name] = signers
            self._verify_keys[cookie_name] = [signer.secret_key for signer in signers]
        return signers

    def _signature(self, key: bytes, payload: str) -> bytes:
        """What itsdangerous' ``get_signature`` computes for these signers
        (base64url of HMAC-SHA256, no padding), in one C call: this runs on
        every request."""
        return base64.urlsafe_b64encode(hmac.digest(key, payload.encode("ascii"), "sha256")).rstrip(
            b"="
        )

    def encode(self, cookie_name: str, session_id: str) -> str:
        """Sign *session_id* for *cookie_name* with the newest key."""
        return self._signers_for(cookie_name)[0].sign(session_id).decode("ascii")

    def _decode(self, cookie_name: str, cookie_value: str) -> tuple[str, bool]:
        if (
            type(cookie_value) is not str
            or len(cookie_value) > _MAX_TOKEN
            or not _TOKEN_RE.fullmatch(cookie_value)
        ):
            raise DecodeError("not a signed session id")
        payload, signature = cookie_value.rsplit(".", 1)
        given = signature.encode("ascii")
        # The signature itsdangerous computes is canonical base64, so an exact
        # comparison also rejects padded or re-encoded variants.
        keys = self._verify_keys.get(cookie_name)
        if keys is None:
            self._signers_for(cookie_name)
            keys = self._verify_keys[cookie_name]
        index = next(
            (
                i
                for i, key in enumerate(keys)
                if hmac.compare_digest(self._signature(key, payload), given)
            ),
            None,
        )
        if index is None:
            raise DecodeError("bad signature")
        # The signature covers the exact text of id and timestamp, so neither
        # can have been re-encoded without the key.
        session_id, stamp = payload.rsplit(".", 1)
        timestamp = bytes_to_int(base64_decode(stamp))
        now = time.time()
        if timestamp > now + FUTURE_SKEW:
            raise DecodeError("signature from the future")
        if self._max_age is not None and now - timestamp > self._max_age:
            raise DecodeError("signature expired")
        if not is_valid_id(session_id):
            raise DecodeError("not a session id")
        return session_id, index != 0

    def __repr__(self) -> str:
        return f"SignedEncoder(<{len(self._keys)} key(s)>, max_age={self._max_age!r})"
