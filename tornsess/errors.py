"""The exception hierarchy of tornsess.

Every exception the library raises on purpose derives from
:class:`TornsessError`, so ``except tornsess.TornsessError`` catches them all.
"""

from __future__ import annotations

from typing import Any

from tornado.web import HTTPError

__all__ = [
    "ConfigError",
    "DecodeError",
    "EntryNotFound",
    "ImmutableEntry",
    "NotSupported",
    "SessionInterrupted",
    "SessionMoved",
    "SessionNotFound",
    "SessionSealed",
    "SessionTooLarge",
    "StoreUnavailable",
    "TornsessError",
]


class TornsessError(Exception):
    """Base class of every error raised by tornsess."""


class ConfigError(TornsessError, ValueError):
    """A configuration value is invalid; raised at construction time.

    :attr:`field` names the offending :class:`~tornsess.Config` field (or
    Application setting).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DecodeError(TornsessError):
    """A cookie value could not be decoded into a session id.

    Encoders raise this, and only this, for any input they cannot decode.
    The manager turns it into a fresh session.
    """


class SessionNotFound(TornsessError):
    """The request has no live session (Iris ``ErrNotFound``)."""


class NotSupported(TornsessError):
    """The store does not implement an optional operation (Iris ``ErrNotImplemented``)."""


class EntryNotFound(TornsessError, KeyError):
    """A typed getter was asked for a key the session does not hold."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"session has no entry {self.key!r}"


class ImmutableEntry(TornsessError):
    """``set`` or ``delete`` was called on a key stored with ``set_immutable``."""

    def __init__(self, key: str) -> None:
        super().__init__(f"session entry {key!r} is immutable; only set_immutable() may replace it")
        self.key = key


class _HTTPStatusError(TornsessError, HTTPError):
    """A tornsess error that Tornado answers with its own HTTP status."""

    status = 500
    reason = "Internal Server Error"
    default_message = ""

    def __init__(self, message: str | None = None) -> None:
        HTTPError.__init__(self, self.status, reason=self.reason)
        self.message: str = self.default_message if message is None else message
        self.args: tuple[Any, ...] = (self.message,)

    def __str__(self) -> str:
        return self.message


class SessionInterrupted(_HTTPStatusError):
    """The session was destroyed (by another request, by expiry, or earlier
    in this one) before a change to it could be stored; the change was not
    applied.

    It is a :class:`tornado.web.HTTPError` with status 409 (Conflict): a
    double-submitted login, where two requests regenerate one session at
    once, or a request whose session a concurrent logout destroyed. Raised
    out of a handler, or found by the commit before the response, the client
    gets a 409 without a Set-Cookie (so the winner's cookie stands), its
    changes are dropped, and tornsess logs one line at INFO, no traceback.
    """

    status = 409
    reason = "Conflict"
    default_message = "the session was destroyed or expired"


class SessionMoved(SessionInterrupted):
    """Raised by a store (not by tornsess to applications): the id named a
    session that was renewed (``Config.renew_after``) and is in its grace
    window, so nothing was written under it. :attr:`successor` is the sealed
    text the store keeps for the renewed id (:func:`tornsess.ids.seal_successor`);
    the request path opens it with the old id, moves the request to the
    renewed id, and repeats the call there.

    A subclass of :class:`SessionInterrupted`, so that code which does not
    know of renewal treats the old id as gone (a 409), never as writable.
    """

    def __init__(self, successor: str) -> None:
        super().__init__("the session was renewed under a new id")
        self.successor: str = successor
        """The sealed text of the id that replaced this one."""


class SessionSealed(TornsessError, RuntimeError):
    """The session was changed after the response headers were sent.

    The cookie can no longer be updated, so the change is refused rather than
    lost. Call ``await session.save()`` before ``flush()``.
    """


class SessionTooLarge(TornsessError):
    """The session cookie would exceed the 4096-byte browser limit."""


class StoreUnavailable(_HTTPStatusError):
    """The session store could not be reached or failed.

    It is a :class:`tornado.web.HTTPError` with status 503: raised out of a
    handler, the client gets a 503 with ``Retry-After``, and tornsess logs
    the failure once (no traceback).
    """

    status = 503
    reason = "Service Unavailable"
    default_message = "session store unavailable"
