"""The plain encoder: the cookie carries the session id as it is."""

from __future__ import annotations

from tornsess.errors import DecodeError
from tornsess.ids import is_valid_id

__all__ = ["PlainEncoder"]


class PlainEncoder:
    """Writes the session id unchanged; ``decode`` only checks its shape.

    The id itself is the secret (256 random bits by default), so this is safe
    for server-side sessions. It adds no integrity or confidentiality; use
    ``SignedEncoder`` or ``SecretBoxEncoder`` to also reject forged cookies
    before any store lookup.
    """

    def encode(self, cookie_name: str, session_id: str) -> str:
        """Return *session_id* unchanged."""
        return session_id

    def decode(self, cookie_name: str, cookie_value: str) -> str:
        """Return *cookie_value* if it has the shape of a session id.

        :raises tornsess.DecodeError: for anything else (length, alphabet, type).
        """
        if not is_valid_id(cookie_value):
            raise DecodeError("not a session id")
        return cookie_value

    def __repr__(self) -> str:
        return "PlainEncoder()"
