"""The :class:`Encoding` interface: how a session id travels in the cookie."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .errors import DecodeError

__all__ = ["Encoding", "FunctionEncoding", "KeyedEncoding", "RotatingEncoding"]


@runtime_checkable
class Encoding(Protocol):
    """Turns a session id into a cookie value and back.

    ``decode`` must raise :class:`tornsess.DecodeError`, and no other
    exception type, for any value it cannot decode; the manager then starts
    a fresh session. Encoded values should use only ``[A-Za-z0-9._-]`` so that
    Tornado never quotes the cookie.
    """

    def encode(self, cookie_name: str, session_id: str) -> str:
        """Return the cookie value carrying *session_id* under *cookie_name*."""
        ...

    def decode(self, cookie_name: str, cookie_value: str) -> str:
        """Return the session id in *cookie_value*; raise ``DecodeError`` if none."""
        ...


@runtime_checkable
class RotatingEncoding(Encoding, Protocol):
    """An :class:`Encoding` with several keys, that can tell when a cookie was
    made with a key other than the newest, so the manager re-issues it."""

    def decode_stale(self, cookie_name: str, cookie_value: str) -> tuple[str, bool]:
        """Like ``decode``, plus whether the value must be re-issued."""
        ...


@runtime_checkable
class KeyedEncoding(Encoding, Protocol):
    """An :class:`Encoding` with secret keys, that derives keys for other
    uses from them (the signed and SecretBox encoders do). The manager keys
    the user tags of device lists with them (:func:`tornsess.ids.user_tag`);
    with an encoding that has no keys, the tags are keyed with nothing."""

    def derive_keys(self, purpose: str) -> list[bytes]:
        """One key for *purpose* per key of the encoding, newest first."""
        ...


class FunctionEncoding:
    """Adapts the ``Config.encode`` / ``Config.decode`` callables to :class:`Encoding`.

    An exception other than ``DecodeError`` raised by the *decode* callable is
    turned into ``DecodeError``, so a buggy callable gives a fresh session, not
    a 500.
    """

    def __init__(
        self,
        encode: Callable[[str, str], str],
        decode: Callable[[str, str], str],
    ) -> None:
        self._encode = encode
        self._decode = decode

    def encode(self, cookie_name: str, session_id: str) -> str:
        """The *encode* callable's cookie value for *session_id*."""
        return self._encode(cookie_name, session_id)

    def decode(self, cookie_name: str, cookie_value: str) -> str:
        """The *decode* callable's session id for *cookie_value*.

        :raises tornsess.DecodeError: the callable raised (any exception), or
            returned something other than a str.
        """
        try:
            value = self._decode(cookie_name, cookie_value)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"decode callable failed: {type(exc).__name__}") from None
        if type(value) is not str:
            raise DecodeError("decode callable did not return a str")
        return value
