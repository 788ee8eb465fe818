"""Session ids: generation, validation and the store key derived from them."""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["MAX_ID_LENGTH", "is_valid_id", "new_id", "store_key"]

MAX_ID_LENGTH = 128
_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def new_id() -> str:
    """A fresh 256-bit session id: ``secrets.token_urlsafe(32)`` (43 characters)."""
    return secrets.token_urlsafe(32)


def is_valid_id(value: object) -> bool:
    """Whether *value* is a str of 1 to 128 characters of ``[A-Za-z0-9._-]``."""
    return type(value) is str and _ID_RE.fullmatch(value) is not None


def store_key(session_id: str) -> str:
    """The key a store files a session under: the hex SHA-256 of its id.

    Stores never keep the id itself, so a leaked store (or a timing side
    channel on its index) does not give out live session ids.
    """
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()
