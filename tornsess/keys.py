"""Keys: generation, text form, and purpose-separated derivation from the
Application's ``cookie_secret``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
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
MIN_SECRET_BYTES = 32
"""The shortest ``cookie_secret`` the keyed encoder shorthands accept."""

_KEY_TEXT_RE = re.compile(r"[A-Za-z0-9_-]+")


def generate_key() -> str:
    """A fresh 256-bit key as text: base64url without padding (43 characters).

    This is what ``python -m tornsess keygen`` prints; both ``SignedEncoder``
    and ``SecretBoxEncoder`` accept it.
    """
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_SIZE)).rstrip(b"=").decode("ascii")


def decode_key(text: str) -> bytes:
    """The bytes of a key in the text form of :func:`generate_key`: strict
    base64url (``A-Z a-z 0-9 - _``), ``=`` padding optional, surrounding
    whitespace ignored.

    :raises ValueError: anything else, such as a passphrase (whose spaces
        and punctuation a lenient decoder would silently drop), or base64
        whose unused bits are not zero (not the canonical form of any key).
    """
    stripped = text.strip()
    unpadded = stripped.rstrip("=")
    if (
        not _KEY_TEXT_RE.fullmatch(unpadded)
        or len(unpadded) % 4 == 1
        or (stripped != unpadded and len(stripped) % 4 != 0)
    ):
        raise ValueError("not a base64url key (generate one with `python -m tornsess keygen`)")
    try:
        raw = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):  # pragma: no cover - excluded above
        raise ValueError("not a base64url key") from None
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != unpadded:
        raise ValueError("not a canonical base64url key (its unused bits are not zero)")
    return raw


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

    Every secret must hold at least 32 bytes (as UTF-8): the keys derived
    from it are only as strong as it is.

    :raises tornsess.ConfigError: no ``cookie_secret``, a secret under 32
        bytes, or a bad ``key_version``.
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
        return [derive_key(_checked_secret(secret[v]), purpose) for v in order]
    return [derive_key(_checked_secret(secret), purpose)]


def _checked_secret(secret: object) -> str | bytes:
    if not isinstance(secret, (str, bytes)):
        raise ConfigError("cookie_secret", "must be str, bytes or a dict of them")
    size = len(secret.encode("utf-8") if isinstance(secret, str) else secret)
    if size < MIN_SECRET_BYTES:
        raise ConfigError(
            "cookie_secret",
            f"is {size} bytes; the signed and secretbox shorthands need at least "
            f"{MIN_SECRET_BYTES} (generate one with `python -m tornsess keygen`)",
        )
    return secret
