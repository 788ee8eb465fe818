"""Session: the user-facing API of one request's session (Iris's methods).

A :class:`Session` reads and changes a :class:`~tornsess._state.SessionState`,
the plain data that the request path (:mod:`tornsess.request`) loads and
commits; its asynchronous methods hand that state to the request path.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import struct
from collections.abc import Awaitable, Iterator
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from . import codec
from ._state import RESERVED, SessionState, Status
from .database import _NO_KEYS, Op
from .errors import EntryNotFound, ImmutableEntry, SessionInterrupted, SessionSealed

__all__ = ["Session"]

log: logging.Logger = logging.getLogger("tornsess")

_MISSING: Any = object()
_BOOL_STRINGS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}
_INT64 = (-(2**63), 2**63 - 1)


def _decode(key: str, text: str) -> Any:
    """The stored value, or ``_MISSING`` (logged) if the store holds
    something that is not valid stored data (it is never executed)."""
    try:
        return codec.loads(text)
    except ValueError:
        log.warning("tornsess: ignoring corrupt stored value for session key %r", key)
        return _MISSING


class Engine(Protocol):
    """The request path's steps a session's asynchronous methods take
    (:class:`tornsess.request.RequestPath`; a Protocol, so that this module
    does not import the request path, which imports it)."""

    def save(self, state: SessionState) -> Awaitable[None]: ...

    def refresh(self, state: SessionState) -> Awaitable[None]: ...

    def regenerate(self, state: SessionState) -> Awaitable[None]: ...

    def destroy(self, state: SessionState) -> Awaitable[None]: ...

    def login(
        self, state: SessionState, user_id: str, remember: Any, keep_values: bool
    ) -> Awaitable[None]: ...


def _to_int(key: str, value: Any) -> int:
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is str:
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"session entry {key!r} is not an integer: {value!r}") from None
    if kind is float or kind is Decimal:
        try:
            return int(value)
        except (ValueError, OverflowError):
            raise ValueError(f"session entry {key!r} has no integer value: {value!r}") from None
    raise TypeError(f"session entry {key!r} holds {kind.__name__}, not a number")


def _to_float(key: str, value: Any) -> float:
    kind = type(value)
    if kind is float:
        return float(value)
    if kind is int or kind is Decimal:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"session entry {key!r} is too large for a float") from None
    if kind is str:
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(f"session entry {key!r} is not a number: {value!r}") from None
    raise TypeError(f"session entry {key!r} holds {kind.__name__}, not a number")


class Session:
    """A session as seen by one request.

    Get one from ``await sessions.start(handler)`` or ``self.session`` in a
    :class:`~tornsess.SessionMixin` handler. Reads are synchronous reads of
    the copy loaded at the start of the request; changes are synchronous,
    recorded, and stored atomically per key before the response is sent (or
    earlier with :meth:`save`).

    Values may be ``None``, bool, int, float, str, bytes, list, tuple, dict
    with str keys, datetime, date, time, Decimal and UUID, nested; ``get``
    returns an equal value of the same type, and a fresh copy each time.

    What it reads and changes is the session's state (an explicit status,
    the values and the list of changes), which the request path commits.
    """

    __slots__ = ("_state", "_engine", "__weakref__")

    def __init__(self, engine: Engine, state: SessionState) -> None:
        self._engine = engine
        self._state = state

    # -- identity -----------------------------------------------------------

    @property
    def id(self) -> str:
        """The session id (never the encoded cookie value)."""
        return self._state.ensure_id()

    @property
    def token(self) -> str | None:
        """The session's token, the encoded id exactly as the cookie (or the
        ``Config.header``) carries it, for a login endpoint to return in its
        body; ``None`` until the session is stored."""
        state = self._state
        return state.token if state.stored else None

    @property
    def is_new(self) -> bool:
        """True if this request created the session (no valid cookie came in)."""
        return self._state.is_new

    @property
    def is_destroyed(self) -> bool:
        """True once :meth:`destroy` (or the manager's ``destroy``) ran."""
        return self._state.status is Status.DESTROYED

    @property
    def created(self) -> _dt.datetime:
        """When the session was created (aware, UTC)."""
        return _dt.datetime.fromtimestamp(self._state.created, _dt.timezone.utc)

    @property
    def last_access(self) -> _dt.datetime:
        """When the session was last stored as active, before this request (aware, UTC)."""
        return _dt.datetime.fromtimestamp(self._state.accessed, _dt.timezone.utc)

    @property
    def expires_at(self) -> _dt.datetime | None:
        """The absolute end of the session's life, or ``None`` if it has none."""
        deadline = self._state.deadline
        if deadline is None:
            return None
        return _dt.datetime.fromtimestamp(deadline, _dt.timezone.utc)

    def __repr__(self) -> str:
        return f"<Session {self._state.status.value} keys={list(self._state.values)!r}>"

    # -- users and devices -----------------------------------------------------

    @property
    def user_id(self) -> str | None:
        """The user this session is logged in as (:meth:`login`), or ``None``."""
        binding = self._state.binding
        return None if binding is None else binding.user_id

    @property
    def handle(self) -> str | None:
        """This session's handle, once it is logged in (else ``None``): a
        stable, non-secret name for it in device lists and revoke links
        (:meth:`Sessions.destroy_by_handle <tornsess.Sessions.destroy_by_handle>`).
        It reveals nothing of the session id or of the user, and does not
        work as a cookie. A new login gives a new handle."""
        binding = self._state.binding
        return None if binding is None else binding.handle

    @property
    def last_login(self) -> _dt.datetime | None:
        """When :meth:`login` last bound this session (aware, UTC), or ``None``."""
        binding = self._state.binding
        if binding is None:
            return None
        return _dt.datetime.fromtimestamp(binding.login, _dt.timezone.utc)

    async def login(self, user_id: str, *, remember: Any = None, keep_values: bool = False) -> None:
        """Log this session in as *user_id*: bind it to the user, give it a
        new id in the same step (against session fixation), record the
        login time, and store it now, with its cookie in this response.

        Logging in as a **different** user than the one the session is bound
        to starts from an empty session: its values, immutable entries and
        flashes are cleared, so that nothing set for the previous user (a
        passed second factor, a role, a step-up time) carries over to the
        next. Logging in from an anonymous session, or again as the same
        user, keeps them (a cart survives login). ``keep_values=True`` keeps
        them in every case, for an application that really wants to carry
        data from one user to another. *remember* sets the
        session's lifetime from now, as :meth:`Sessions.update_expiration
        <tornsess.Sessions.update_expiration>` does (a number of seconds or
        a :class:`datetime.timedelta`; negative: a browser-session cookie).
        With ``Config(record_client=True)`` the client's ``remote_ip`` and
        User-Agent (cut to 256 characters) are recorded for device lists. The
        store's user index (:class:`tornsess.database.UserIndex`) gets the session, so
        that :meth:`Sessions.user_sessions <tornsess.Sessions.user_sessions>`
        lists it; a store without one still logs in, but cannot list.

        :raises ValueError: *user_id* is not a non-empty str.
        :raises tornsess.SessionInterrupted: a concurrent request destroyed
            or regenerated the session first (409, as for :meth:`regenerate`).
        :raises tornsess.StoreUnavailable: the store failed (503).
        """
        if type(user_id) is not str or not user_id:
            raise ValueError("user_id must be a non-empty str")
        self._check_writable()
        await self._engine.login(self._state, user_id, remember, keep_values)

    # -- recording changes --------------------------------------------------

    def _check_writable(self) -> None:
        state = self._state
        if state.status is Status.DESTROYED:
            raise SessionInterrupted("the session was destroyed; start a new one")
        if state.sealed:
            raise SessionSealed(
                "the session cannot change after the response headers were "
                "sent; call `await session.save()` before flush()"
            )

    @staticmethod
    def _check_key(key: str) -> None:
        if type(key) is not str:
            raise TypeError(f"session keys must be str, not {type(key).__name__}")
        if key[:1] == RESERVED:
            raise ValueError("session keys starting with NUL are reserved for tornsess")

    # -- values -------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        """Store *value* under *key*.

        :raises TypeError: the value (or something inside it) has a type
            sessions cannot store.
        :raises tornsess.ImmutableEntry: *key* was stored with ``set_immutable``.
        :raises tornsess.SessionSealed: the response headers were already sent.
        """
        self._check_key(key)
        self._check_writable()
        if key in self._state.immutable:
            raise ImmutableEntry(key)
        text = codec.dumps(value)
        self._state.own_values()[key] = text
        self._state.ops.append(Op("set", key, text))

    def set_immutable(self, key: str, value: Any) -> None:
        """Store *value* under *key* so that only another ``set_immutable``
        can replace it (``set`` and ``delete`` raise :class:`ImmutableEntry`)."""
        self._check_key(key)
        self._check_writable()
        text = codec.dumps(value)
        self._state.own_values()[key] = text
        if key not in self._state.immutable:
            self._state.immutable = self._state.immutable | {key}
        self._state.ops.append(Op("set_immutable", key, text))

    def get(self, key: str, default: Any = None) -> Any:
        """The value under *key* (a fresh copy), or *default* if there is none."""
        text = self._state.values.get(key)
        value = _MISSING if text is None else _decode(key, text)
        return default if value is _MISSING else value

    def get_all(self) -> dict[str, Any]:
        """A new dict of every key and value."""
        values = {key: _decode(key, text) for key, text in self._state.values.items()}
        return {key: value for key, value in values.items() if value is not _MISSING}

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._state.values)

    def len(self) -> int:
        """The number of entries (Iris ``Len``)."""
        return len(self._state.values)

    def __len__(self) -> int:
        return len(self._state.values)

    def __contains__(self, key: object) -> bool:
        return key in self._state.values

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._state.values))

    def __getitem__(self, key: str) -> Any:
        return self._raw(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        if not self.delete(key):
            raise EntryNotFound(key)

    def delete(self, key: str) -> bool:
        """Remove *key*; return whether it was there.

        :raises tornsess.ImmutableEntry: *key* is immutable.
        """
        self._check_writable()
        if key in self._state.immutable:
            raise ImmutableEntry(key)
        if key not in self._state.values:
            return False
        del self._state.own_values()[key]
        self._state.ops.append(Op("delete", key))
        return True

    def clear(self) -> None:
        """Remove every value, immutable ones included. Flashes stay."""
        self._check_writable()
        state = self._state
        state.values = {}
        state.values_owned = True
        state.immutable = _NO_KEYS
        state.ops.append(Op("clear"))  # the login binding is not a value: it stays

    def is_immutable(self, key: str) -> bool:
        """Whether *key* was stored with ``set_immutable``."""
        return key in self._state.immutable

    # -- typed getters ------------------------------------------------------

    def _raw(self, key: str) -> Any:
        text = self._state.values.get(key)
        value = _MISSING if text is None else _decode(key, text)
        if value is _MISSING:
            raise EntryNotFound(key)
        return value

    def get_string(self, key: str) -> str:
        """The value as a str: str as is; int, float, Decimal and UUID as text.

        :raises tornsess.EntryNotFound: no such key.
        :raises TypeError: any other type (bool, None, bytes, containers, dates).
        """
        value = self._raw(key)
        kind = type(value)
        if kind is str:
            return str(value)
        if kind in (int, float, Decimal, UUID):
            return str(value)
        raise TypeError(f"session entry {key!r} holds {kind.__name__}, not a string")

    def get_string_default(self, key: str, default: str) -> str:
        """:meth:`get_string`, or *default* when it would raise."""
        try:
            return self.get_string(key)
        except (KeyError, TypeError, ValueError):
            return default

    def get_int(self, key: str) -> int:
        """The value as an int: int as is, float and Decimal truncated toward
        zero, numeric strings parsed (``"3"`` gives 3). ``bool`` is not an int.

        :raises tornsess.EntryNotFound: no such key.
        :raises ValueError: a string or float with no integer value.
        :raises TypeError: a non-numeric type.
        """
        return _to_int(key, self._raw(key))

    def get_int_default(self, key: str, default: int) -> int:
        """:meth:`get_int`, or *default* when it would raise."""
        try:
            return self.get_int(key)
        except (KeyError, TypeError, ValueError):
            return default

    def get_int64(self, key: str) -> int:
        """:meth:`get_int`, checked to fit a signed 64-bit integer.

        :raises ValueError: out of range, or as :meth:`get_int`.
        """
        value = _to_int(key, self._raw(key))
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(f"session entry {key!r} does not fit in 64 bits")
        return value

    def get_int64_default(self, key: str, default: int) -> int:
        """:meth:`get_int64`, or *default* when it would raise."""
        try:
            return self.get_int64(key)
        except (KeyError, TypeError, ValueError):
            return default

    def get_float64(self, key: str) -> float:
        """The value as a float: float, int and Decimal converted, numeric
        strings parsed at full (64-bit) precision.

        :raises tornsess.EntryNotFound: no such key.
        :raises ValueError: a string that is not a number.
        :raises TypeError: a non-numeric type (``bool`` included).
        """
        return _to_float(key, self._raw(key))

    def get_float64_default(self, key: str, default: float) -> float:
        """:meth:`get_float64`, or *default* when it would raise."""
        try:
            return self.get_float64(key)
        except (KeyError, TypeError, ValueError):
            return default

    def get_float32(self, key: str) -> float:
        """:meth:`get_float64` rounded to 32-bit float precision.

        :raises ValueError: out of the float32 range, or as :meth:`get_float64`.
        """
        value = _to_float(key, self._raw(key))
        try:
            rounded: float = struct.unpack("f", struct.pack("f", value))[0]
        except OverflowError:
            rounded = math.inf
        if math.isinf(rounded) and not math.isinf(value):
            raise ValueError(f"session entry {key!r} does not fit in a float32")
        return rounded

    def get_float32_default(self, key: str, default: float) -> float:
        """:meth:`get_float32`, or *default* when it would raise."""
        try:
            return self.get_float32(key)
        except (KeyError, TypeError, ValueError):
            return default

    def get_boolean(self, key: str) -> bool:
        """The value as a bool: bool as is; the strings ``1 t T TRUE true True``
        and ``0 f F FALSE false False``. Numbers are not booleans.

        :raises tornsess.EntryNotFound: no such key.
        :raises ValueError: any other string.
        :raises TypeError: any other type.
        """
        value = self._raw(key)
        kind = type(value)
        if kind is bool:
            return bool(value)
        if kind is str:
            try:
                return _BOOL_STRINGS[value]
            except KeyError:
                raise ValueError(f"session entry {key!r} is not a boolean: {value!r}") from None
        raise TypeError(f"session entry {key!r} holds {kind.__name__}, not a boolean")

    def get_boolean_default(self, key: str, default: bool) -> bool:
        """:meth:`get_boolean`, or *default* when it would raise."""
        try:
            return self.get_boolean(key)
        except (KeyError, TypeError, ValueError):
            return default

    # -- counters -----------------------------------------------------------

    def increment(self, key: str, n: int | float = 1) -> int | float:
        """Add *n* to the number under *key* (a missing key counts as 0) and
        return the new value. Stored as an atomic increment, so concurrent
        requests' increments add up.

        :raises TypeError: the key holds something other than an int or
            float, or *n* is not a number.
        """
        self._check_key(key)
        if type(n) not in (int, float):
            raise TypeError(f"increment amount must be int or float, not {type(n).__name__}")
        self._check_writable()
        if key in self._state.immutable:
            raise ImmutableEntry(key)
        text = self._state.values.get(key)
        current = 0 if text is None else _decode(key, text)
        if type(current) not in (int, float):
            raise TypeError(
                f"cannot increment session entry {key!r}: it holds "
                f"{type(current).__name__}, not a number"
            )
        result: int | float = current + n
        self._state.own_values()[key] = codec.dumps(result)
        self._state.ops.append(Op("incr", key, codec.dumps(n)))
        return result

    def decrement(self, key: str, n: int | float = 1) -> int | float:
        """Subtract *n* (a missing key gives ``-n``); see :meth:`increment`."""
        if type(n) not in (int, float):
            raise TypeError(f"decrement amount must be int or float, not {type(n).__name__}")
        return self.increment(key, -n)

    # -- flashes ------------------------------------------------------------

    def set_flash(self, key: str, value: Any) -> None:
        """Store a flash message: readable until a request reads it with
        :meth:`get_flash` (or :meth:`get_flashes`), then gone from the next
        request on."""
        self._check_key(key)
        self._check_writable()
        text = codec.dumps(value)
        self._state.own_flashes()[key] = text
        if self._state.read_flashes:
            self._state.read_flashes.discard(key)
        self._state.ops.append(Op("flash_set", key, text))

    def has_flash(self) -> bool:
        """Whether any flash is present (read ones included, for this request)."""
        return bool(self._state.flashes)

    def peek_flash(self, key: str) -> Any:
        """The flash under *key* without marking it read, or ``None``."""
        text = self._state.flashes.get(key)
        value = None if text is None else _decode(key, text)
        return None if value is _MISSING else value

    def get_flash(self, key: str) -> Any:
        """The flash under *key*, or ``None``; marks it read (it stays
        readable for the rest of this request)."""
        text = self._state.flashes.get(key)
        if text is None:
            return None
        self._state.mark_read(key)
        value = _decode(key, text)
        return None if value is _MISSING else value

    def get_flash_string(self, key: str) -> str:
        """:meth:`get_flash_string_default` with ``""``."""
        return self.get_flash_string_default(key, "")

    def get_flash_string_default(self, key: str, default: str) -> str:
        """The flash under *key* if it is a str, else *default*; marks it read."""
        value = self.get_flash(key)
        return value if type(value) is str else default

    def get_flashes(self) -> dict[str, Any]:
        """Every flash, as a new dict; marks them all read."""
        for key in self._state.flashes:
            self._state.mark_read(key)
        flashes = {key: _decode(key, text) for key, text in self._state.flashes.items()}
        return {key: value for key, value in flashes.items() if value is not _MISSING}

    def delete_flash(self, key: str) -> None:
        """Remove the flash under *key* now."""
        self._check_writable()
        if key in self._state.flashes:
            del self._state.own_flashes()[key]
        if self._state.read_flashes:
            self._state.read_flashes.discard(key)
        self._state.ops.append(Op("flash_delete", key))

    def clear_flashes(self) -> None:
        """Remove every flash now."""
        self._check_writable()
        state = self._state
        state.flashes = {}
        state.flashes_owned = True
        state.read_flashes = None
        state.ops.append(Op("flash_clear"))

    # -- lifecycle ----------------------------------------------------------

    async def save(self) -> None:
        """Store the changes made so far now (and send the cookie, if it must
        be), instead of just before the response.

        On a WebSocket (a :class:`~tornsess.SessionMixin` on a
        ``WebSocketHandler``) there is no response after the handshake: changes
        made in ``open()``, ``on_message()`` or ``on_close()`` are stored only
        by this call, with the same atomic per-key commit as a page request.

        :raises tornsess.SessionInterrupted: the session was destroyed
            meanwhile (409 if it propagates; the changes are dropped).
        :raises tornsess.SessionNotFound: on a WebSocket, the session was
            destroyed meanwhile; nothing is stored.
        :raises tornsess.SessionSealed: on a WebSocket, the handshake carried
            no stored session (a new one could never reach the browser).
        :raises tornsess.StoreUnavailable: the store failed (503).
        """
        await self._engine.save(self._state)

    async def refresh(self) -> None:
        """Store the changes made so far, then read the session again from
        the store, so that changes made by other requests (other tabs, other
        processes) become visible: for a WebSocket that lives long.

        :raises tornsess.SessionNotFound: the session no longer exists
            (destroyed, expired, or never stored).
        :raises tornsess.StoreUnavailable: the store failed.
        """
        await self._engine.refresh(self._state)

    async def regenerate(self) -> None:
        """Give the session a new id, keeping its data; the old id is dead at
        once and the new cookie goes out with this response. Call it at login
        and at every privilege change (session fixation).

        :raises tornsess.SessionInterrupted: another request destroyed or
            regenerated this session first (a double-submitted login), or it
            expired. It is an ``HTTPError(409)``: left to propagate, the
            client gets 409 Conflict without a Set-Cookie, so the winner's
            cookie stands; this request's changes are dropped.
        :raises tornsess.SessionSealed: the response headers were already
            sent, or the session is a WebSocket's (no cookie can follow).
        :raises tornsess.StoreUnavailable: the store failed (503).
        """
        self._check_writable()
        await self._engine.regenerate(self._state)

    async def destroy(self) -> None:
        """Remove the session from the store (``on_destroy`` callbacks run).

        The cookie is left as it is, as in Iris; ``await
        sessions.destroy(handler)`` also deletes it.
        """
        await self._engine.destroy(self._state)
