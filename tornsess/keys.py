"""Keys: generation, text form, and purpose-separated derivation from the
Application's ``cookie_secret``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

__all__ = [
    "KEY_SIZE",
    "decode_key",
    "derive_key",
    "generate_key",
    "keys_from_cookie_secret",
]

KEY_SIZE = 32


def generate_key() -> str:
    """A fresh 256-bit key as text: base64url without padding (43 characters).

    This is what ``python -m tornsess keygen`` prints; both ``SignedEncoder``
    and ``SecretBoxEncoder`` accept it.
    """
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_SIZE)).rstrip(b"=").decode("ascii")


def decode_key(text: str) -> bytes:
    """The bytes of a key in the text form of :func:`generate_key`.

    :raises ValueError: not base64url.
    """
    stripped = text.strip()
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a base64url key: {exc}") from None


def derive_key(secret: str | bytes, purpose: str, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 (RFC 5869) of *secret* for one *purpose*, so one
    ``cookie_secret`` yields independent keys for independent uses."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    prk = hmac.new(b"tornsess", secret, hashlib.sha256).digest()
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(
            prk, block + purpose.encode("utf-8") + bytes([counter]), hashlib.sha256
        ).digest()
        out += block
        counter += 1
    return out[:length]


def keys_from_cookie_secret(settings: Mapping[str, Any], purpose: str) -> list[bytes]:
    """Keys derived from the Application's ``cookie_secret``, oldest first.

    A dict ``{version: secret}`` with ``key_version`` (Tornado's rotation
    scheme) gives one key per version, the ``key_version`` one last (newest).

    :raises tornsess.ConfigError: no ``cookie_secret``, or a bad ``key_version``.
    """
    secret = settings.get("cookie_secret")
    if not secret:
        raise ConfigError(
            "cookie_secret",
            "the encoder shorthand needs the Application setting cookie_secret",
        )
    if isinstance(secret, Mapping):
        version = settings.get("key_version")
        if version not in secret:
            raise ConfigError(
                "key_version",
                f"cookie_secret is a dict, so key_version must name one of its "
                f"versions {sorted(secret)!r}, got {version!r}",
            )
        older = sorted((v for v in secret if v != version), key=lambda v: (str(type(v)), v))
        order = [*older, version]
        return [derive_key(secret[v], purpose) for v in order]
    if not isinstance(secret, (str, bytes)):
        raise ConfigError("cookie_secret", "must be str, bytes or a dict of them")
    return [derive_key(secret, purpose)]
