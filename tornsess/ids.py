"""Session ids: generation, validation and the store key derived from them."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets

import nacl.encoding
import nacl.exceptions
import nacl.secret

__all__ = [
    "MAX_ID_LENGTH",
    "is_valid_id",
    "new_handle",
    "new_id",
    "open_successor",
    "seal_successor",
    "store_key",
    "user_tag",
]

MAX_ID_LENGTH = 128
_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def new_id() -> str:
    """A fresh 256-bit session id: ``secrets.token_urlsafe(32)`` (43 characters)."""
    return secrets.token_urlsafe(32)


def is_valid_id(value: object) -> bool:
    """Whether *value* is a str of 1 to 128 characters of ``[A-Za-z0-9._-]``."""
    return type(value) is str and _ID_RE.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def store_key(session_id: str) -> str:
    """The key a store files a session under: the hex SHA-256 of its id.

    Stores never keep the id itself, so a leaked store (or a timing side
    channel on its index) does not give out live session ids. The keys of
    the last 4,096 ids are remembered in the process (a session's requests
    ask for the same key each time).
    """
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def user_tag(user_id: str, key: bytes = b"") -> str:
    """The key a store files a user's index under: 16 hex digits of the
    HMAC-SHA256 of the user id under *key*, a secret of the deployment (see
    :class:`tornsess.Sessions`, which derives it from the encoder's key), so
    that a tag, or a handle that starts with one, tells nothing about the
    user to anyone without the key. A collision only puts two users' entries
    in one index; each entry is checked against the user it belongs to."""
    return hmac.new(key, b"tornsess user\x00" + user_id.encode("utf-8"), "sha256").hexdigest()[:16]


def new_handle(tag: str) -> str:
    """A fresh handle for a session of the user whose tag is *tag*: the tag,
    ``~``, and 128 random bits. The ``~`` keeps it out of the id alphabet, so
    a handle never names a session as a cookie; it reveals nothing of the
    session id or its store key."""
    return f"{tag}~{secrets.token_urlsafe(16)}"


def handle_tag(handle: str) -> str | None:
    """The user tag a handle starts with, or ``None`` if it is no handle."""
    tag, sep, rest = handle.partition("~") if isinstance(handle, str) else ("", "", "")
    if not sep or len(tag) != 16 or not rest or len(handle) > 64:
        return None
    return tag


def _successor_box(old_id: str) -> nacl.secret.SecretBox:
    key = hashlib.blake2b(
        old_id.encode("ascii"), digest_size=nacl.secret.SecretBox.KEY_SIZE, person=b"tornsess-renew"
    ).digest()
    return nacl.secret.SecretBox(key)


def seal_successor(old_id: str, new_id: str) -> str:
    """The text a store keeps under a renewed session's old id for its grace
    window (``Config.renew_after``): the new id, encrypted and authenticated
    (PyNaCl's SecretBox) under a key derived from the old id with BLAKE2b.

    A store files sessions under hashes of their ids and never holds an id
    itself; the grace window keeps that: only a client that holds the old
    id can learn the new one, and a leaked store gives out neither."""
    box = _successor_box(old_id)
    sealed: bytes = box.encrypt(new_id.encode("ascii"), encoder=nacl.encoding.URLSafeBase64Encoder)
    return sealed.decode("ascii")


def open_successor(old_id: str, sealed: str) -> str | None:
    """The new id :func:`seal_successor` sealed under *old_id*, or ``None``
    if *sealed* was not sealed under it (or is no session id)."""
    try:
        plain = _successor_box(old_id).decrypt(
            sealed.encode("ascii"), encoder=nacl.encoding.URLSafeBase64Encoder
        )
        new_id = plain.decode("ascii")
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return None
    return new_id if is_valid_id(new_id) else None
