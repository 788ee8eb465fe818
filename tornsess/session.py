"""Session: one request's view of a session, and the changes it makes."""

from __future__ import annotations

import datetime as _dt
import enum
import logging
import math
import struct
from collections.abc import Awaitable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from . import codec
from .database import _EMPTY, _NO_KEYS, HANDLE, LOGIN, RESERVED, USER, Op, Record, binding
from .errors import (
    EntryNotFound,
    ImmutableEntry,
    SessionInterrupted,
    SessionSealed,
)
from .ids import new_id

if TYPE_CHECKING:
    from tornado.web import RequestHandler

    from .cookie import CookieOption

__all__ = ["Session"]

log = logging.getLogger("tornsess")

T = TypeVar("T")
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


_loads = codec.loads
_dumps = codec.dumps
_new_op = tuple.__new__  # Op(...) without the Python-level NamedTuple __new__


def _decode(key: str, text: str) -> Any:
    """The stored value, or ``_MISSING`` (logged) if the store holds
    something that is not valid stored data (it is never executed)."""
    try:
        return codec.loads(text)
    except ValueError:
        log.warning("tornsess: ignoring corrupt stored value for session key %r", key)
        return _MISSING


class Owner(Protocol):
    """What a session needs of the manager that started it (implemented by
    :class:`tornsess.Sessions`; a Protocol, so this module does not import
    the manager, which imports it)."""

    _lifetime: float
    _save_new: bool

    def _touch_due(self, session: Session, now: float | None = None) -> bool: ...

    def _guard(self, session: Session, operation: Awaitable[None]) -> Awaitable[None]: ...

    def _commit(self, session: Session) -> Awaitable[None]: ...

    def _regenerate(self, session: Session) -> Awaitable[None]: ...

    def _destroy_session(self, session: Session) -> Awaitable[None]: ...

    def _login(self, session: Session, user_id: str, remember: Any) -> Awaitable[None]: ...


class _Status(enum.Enum):
    NEW = "new"  # not in the store
    STORED = "stored"
    DESTROYED = "destroyed"


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

    Internally a session has an explicit status (new: not in the store yet;
    stored; destroyed) and records its changes as a list of operations. The
    manager (:mod:`tornsess.manager`) and the request lifecycle
    (:mod:`tornsess.lifecycle`) work with it only through the small set of
    methods under "the manager's interface" at the end of this class, never
    through its attributes.
    """

    __slots__ = (
        "_manager",
        "_handler",
        "_id",
        "_is_new",
        "_status",
        "_values",
        "_meta",
        "_values_owned",
        "_immutable",
        "_flashes",
        "_flashes_owned",
        "_read_flashes",
        "_ops",
        "_created",
        "_accessed",
        "_deadline",
        "_lifetime",
        "_cookie_dirty",
        "_meta_dirty",
        "_sealed",
        "_options",
        "_read_cookie",
        "__weakref__",
    )

    def __init__(
        self,
        manager: Owner,
        handler: RequestHandler,
        session_id: str | None,
        record: Record | None,
        options: tuple[CookieOption, ...],
        now: float,
    ) -> None:
        self._manager = manager
        self._handler: RequestHandler | None = handler
        self._id = session_id
        self._options = options
        self._ops: list[Op] = []
        self._read_flashes: set[str] | None = None
        self._values_owned = False
        self._flashes_owned = False
        self._cookie_dirty = False
        self._meta_dirty = False
        self._sealed = False
        self._read_cookie = record is not None
        self._lifetime = manager._lifetime
        self._values: Mapping[str, str]
        self._meta: Mapping[str, str] = _EMPTY
        self._flashes: Mapping[str, str]
        self._immutable: frozenset[str]
        if record is None:
            self._is_new = True
            self._status = _Status.NEW
            self._values = _EMPTY
            self._flashes = _EMPTY
            self._immutable = _NO_KEYS
            self._created = now
            self._accessed = now
            self._deadline = now + self._lifetime if self._lifetime > 0 else None
        else:
            self._is_new = False
            self._status = _Status.STORED
            values = record.values
            if USER in values:  # a logged-in session: its binding apart
                self._values = {k: v for k, v in values.items() if k[:1] != RESERVED}
                self._values_owned = True
                self._meta = {k: v for k, v in values.items() if k[:1] == RESERVED}
            else:
                self._values = values
            self._flashes = record.flashes
            self._immutable = record.immutable
            self._created = record.created
            self._accessed = record.accessed
            self._deadline = record.deadline

    # -- identity -----------------------------------------------------------

    @property
    def id(self) -> str:
        """The session id (never the encoded cookie value)."""
        session_id = self._id
        if session_id is None:  # a new session's id is drawn when first needed
            session_id = self._id = new_id()
        return session_id

    @property
    def handler(self) -> RequestHandler:
        """The request handler this session belongs to.

        :raises tornsess.SessionSealed: the response has ended.
        """
        handler = self._handler
        if handler is None:
            raise SessionSealed("the response has ended; the session has no handler")
        return handler

    @property
    def is_new(self) -> bool:
        """True if this request created the session (no valid cookie came in)."""
        return self._is_new

    @property
    def is_destroyed(self) -> bool:
        """True once :meth:`destroy` (or the manager's ``destroy``) ran."""
        return self._status is _Status.DESTROYED

    # -- users and devices -----------------------------------------------------

    @property
    def user_id(self) -> str | None:
        """The user this session is logged in as (:meth:`login`), or ``None``."""
        text = self._meta.get(USER)
        return None if text is None else str(_loads(text))

    @property
    def handle(self) -> str | None:
        """This session's handle, once it is logged in (else ``None``): a
        stable, non-secret name for it in device lists and revoke links
        (:meth:`Sessions.destroy_by_handle <tornsess.Sessions.destroy_by_handle>`).
        It reveals nothing of the session id and does not work as a cookie.
        A new login gives a new handle."""
        text = self._meta.get(HANDLE)
        return None if text is None else str(_loads(text))

    @property
    def last_login(self) -> _dt.datetime | None:
        """When :meth:`login` last bound this session (aware, UTC), or ``None``."""
        text = self._meta.get(LOGIN)
        if text is None:
            return None
        return _dt.datetime.fromtimestamp(float(_loads(text)), _dt.timezone.utc)

    async def login(self, user_id: str, *, remember: Any = None) -> None:
        """Log this session in as *user_id*: bind it to the user, give it a
        new id in the same step (against session fixation), record the
        login time, and store it now, with its cookie in this response.

        Logging in as another user replaces the binding. *remember* sets the
        session's lifetime from now, as :meth:`Sessions.update_expiration
        <tornsess.Sessions.update_expiration>` does (a number of seconds or
        a :class:`datetime.timedelta`; negative: a browser-session cookie).
        With ``Config(record_client=True)`` the client's ``remote_ip`` and
        User-Agent (cut to 256 characters) are recorded for device lists. The
        store's user index (:class:`tornsess.UserIndex`) gets the session, so
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
        await self._manager._guard(self, self._manager._login(self, user_id, remember))

    @property
    def created(self) -> _dt.datetime:
        """When the session was created (aware, UTC)."""
        return _dt.datetime.fromtimestamp(self._created, _dt.timezone.utc)

    @property
    def last_access(self) -> _dt.datetime:
        """When the session was last stored as active, before this request (aware, UTC)."""
        return _dt.datetime.fromtimestamp(self._accessed, _dt.timezone.utc)

    @property
    def expires_at(self) -> _dt.datetime | None:
        """The absolute end of the session's life, or ``None`` if it has none."""
        if self._deadline is None:
            return None
        return _dt.datetime.fromtimestamp(self._deadline, _dt.timezone.utc)

    def __repr__(self) -> str:
        return f"<Session {self._status.value} keys={list(self._values)!r}>"

    # -- recording changes --------------------------------------------------

    def _check_writable(self) -> None:
        if self._status is _Status.DESTROYED:
            raise SessionInterrupted("the session was destroyed; start a new one")
        if self._sealed or self._handler._headers_written:  # type: ignore[union-attr]
            raise SessionSealed(
                "the session cannot change after the response headers were "
                "sent; call `await session.save()` before flush()"
            )

    def _own_values(self) -> dict[str, str]:
        if not self._values_owned:
            self._values = dict(self._values)
            self._values_owned = True
        return self._values  # type: ignore[return-value]

    def _own_flashes(self) -> dict[str, str]:
        if not self._flashes_owned:
            self._flashes = dict(self._flashes)
            self._flashes_owned = True
        return self._flashes  # type: ignore[return-value]

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
        if key in self._immutable:
            raise ImmutableEntry(key)
        text = codec.dumps(value)
        self._own_values()[key] = text
        self._ops.append(Op("set", key, text))

    def set_immutable(self, key: str, value: Any) -> None:
        """Store *value* under *key* so that only another ``set_immutable``
        can replace it (``set`` and ``delete`` raise :class:`ImmutableEntry`)."""
        self._check_key(key)
        self._check_writable()
        text = codec.dumps(value)
        self._own_values()[key] = text
        if key not in self._immutable:
            self._immutable = self._immutable | {key}
        self._ops.append(Op("set_immutable", key, text))

    def get(self, key: str, default: Any = None) -> Any:
        """The value under *key* (a fresh copy), or *default* if there is none."""
        text = self._values.get(key)
        if text is None:
            return default
        try:
            return _loads(text)
        except ValueError:  # as _decode, inlined: the commonest read
            log.warning("tornsess: ignoring corrupt stored value for session key %r", key)
            return default

    def get_all(self) -> dict[str, Any]:
        """A new dict of every key and value."""
        values = {key: _decode(key, text) for key, text in self._values.items()}
        return {key: value for key, value in values.items() if value is not _MISSING}

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._values)

    def len(self) -> int:
        """The number of entries (Iris ``Len``)."""
        return len(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values))

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
        if key in self._immutable:
            raise ImmutableEntry(key)
        if key not in self._values:
            return False
        del self._own_values()[key]
        self._ops.append(Op("delete", key))
        return True

    def clear(self) -> None:
        """Remove every value, immutable ones included. Flashes stay."""
        self._check_writable()
        self._values = {}
        self._values_owned = True
        self._immutable = _NO_KEYS
        self._ops.append(Op("clear"))
        for key, text in self._meta.items():  # the login binding stays
            self._ops.append(Op("set", key, text))

    def is_immutable(self, key: str) -> bool:
        """Whether *key* was stored with ``set_immutable``."""
        return key in self._immutable

    # -- typed getters ------------------------------------------------------

    def _raw(self, key: str) -> Any:
        text = self._values.get(key)
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
        if key in self._immutable:
            raise ImmutableEntry(key)
        text = self._values.get(key)
        current = 0 if text is None else _decode(key, text)
        if type(current) not in (int, float):
            raise TypeError(
                f"cannot increment session entry {key!r}: it holds "
                f"{type(current).__name__}, not a number"
            )
        result: int | float = current + n
        self._own_values()[key] = _dumps(result)
        self._ops.append(_new_op(Op, ("incr", key, _dumps(n))))
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
        self._own_flashes()[key] = text
        if self._read_flashes:
            self._read_flashes.discard(key)
        self._ops.append(Op("flash_set", key, text))

    def has_flash(self) -> bool:
        """Whether any flash is present (read ones included, for this request)."""
        return bool(self._flashes)

    def peek_flash(self, key: str) -> Any:
        """The flash under *key* without marking it read, or ``None``."""
        text = self._flashes.get(key)
        value = None if text is None else _decode(key, text)
        return None if value is _MISSING else value

    def _mark_read(self, key: str) -> None:
        if self._read_flashes is None:
            self._read_flashes = set()
        self._read_flashes.add(key)

    def get_flash(self, key: str) -> Any:
        """The flash under *key*, or ``None``; marks it read (it stays
        readable for the rest of this request)."""
        text = self._flashes.get(key)
        if text is None:
            return None
        self._mark_read(key)
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
        for key in self._flashes:
            self._mark_read(key)
        flashes = {key: _decode(key, text) for key, text in self._flashes.items()}
        return {key: value for key, value in flashes.items() if value is not _MISSING}

    def delete_flash(self, key: str) -> None:
        """Remove the flash under *key* now."""
        self._check_writable()
        if key in self._flashes:
            del self._own_flashes()[key]
        if self._read_flashes:
            self._read_flashes.discard(key)
        self._ops.append(Op("flash_delete", key))

    def clear_flashes(self) -> None:
        """Remove every flash now."""
        self._check_writable()
        self._flashes = {}
        self._flashes_owned = True
        self._read_flashes = None
        self._ops.append(Op("flash_clear"))

    # -- lifecycle ----------------------------------------------------------

    async def save(self) -> None:
        """Store the changes made so far now (and send the cookie, if it must
        be), instead of just before the response.

        :raises tornsess.SessionInterrupted: the session was destroyed
            meanwhile (409 if it propagates; the changes are dropped).
        :raises tornsess.StoreUnavailable: the store failed (503).
        """
        await self._manager._guard(self, self._manager._commit(self))

    async def regenerate(self) -> None:
        """Give the session a new id, keeping its data; the old id is dead at
        once and the new cookie goes out with this response. Call it at login
        and at every privilege change (session fixation).

        :raises tornsess.SessionInterrupted: another request destroyed or
            regenerated this session first (a double-submitted login), or it
            expired. It is an ``HTTPError(409)``: left to propagate, the
            client gets 409 Conflict without a Set-Cookie, so the winner's
            cookie stands; this request's changes are dropped.
        :raises tornsess.SessionSealed: the response headers were already sent.
        :raises tornsess.StoreUnavailable: the store failed (503).
        """
        self._check_writable()
        await self._manager._guard(self, self._manager._regenerate(self))

    async def destroy(self) -> None:
        """Remove the session from the store (``on_destroy`` callbacks run).

        The cookie is left as it is, as in Iris; ``await
        sessions.destroy(handler)`` also deletes it.
        """
        await self._manager._guard(self, self._manager._destroy_session(self))

    # -- the manager's interface ------------------------------------------------
    # Used by Sessions and the request lifecycle only; not public API.

    def _live(self) -> bool:
        """Not destroyed."""
        return self._status is not _Status.DESTROYED

    def _stored(self) -> bool:
        """In the store (as of the last load or commit of this request)."""
        return self._status is _Status.STORED

    def _came_with_cookie(self) -> bool:
        """The request's cookie named this session, or it was stored since."""
        return self._read_cookie or self._status is _Status.STORED

    def _holds_data(self) -> bool:
        """Values, flashes or a login (a new session with none is never stored)."""
        return bool(self._values or self._flashes or self._meta)

    def _add_options(self, options: tuple[CookieOption, ...]) -> None:
        """Cookie options for this session's cookie, after those given so far."""
        if options:
            self._options = self._options + options

    def _cookie_options(self) -> tuple[CookieOption, ...]:
        return self._options

    def _reissue_cookie(self) -> None:
        """Send the cookie again with the response (an older key read it)."""
        self._cookie_dirty = True

    def _set_lifetime(self, seconds: float, now: float) -> None:
        """A new lifetime from *now* (as ``Config.expires``), stored and sent
        with the cookie at commit."""
        self._lifetime = seconds
        self._deadline = now + seconds if seconds > 0 else None
        self._meta_dirty = True
        self._cookie_dirty = True

    def _deadline_at(self) -> float | None:
        """The absolute end of life (UNIX time), or ``None``."""
        return self._deadline

    def _cookie_max_age(self, now: float) -> float | None:
        """The cookie's Max-Age for the session's lifetime (``None``: a
        browser-session cookie)."""
        from .cookie import browser_max_age

        if self._deadline is not None:
            return browser_max_age(max(self._deadline - now, 1.0))
        return browser_max_age(min(self._lifetime, 0.0))

    def _idle_since(self, now: float) -> float:
        """Seconds since the store last recorded activity."""
        return now - self._accessed

    def _seal(self) -> None:
        """Refuse changes from now on (the response headers go out)."""
        self._sealed = True

    def _release(self) -> None:
        """The response has ended: refuse changes, and let go of the handler
        (the handler holds this session: a cycle otherwise)."""
        self._sealed = True
        self._handler = None

    def _pending(self) -> bool:
        """Whether committing would do anything."""
        if self._status is _Status.DESTROYED:
            return False
        if self._status is _Status.NEW:
            return bool(
                self._values
                or self._flashes
                or self._meta
                or self._meta_dirty
                or self._manager._save_new
            )
        if self._ops or self._read_flashes or self._meta_dirty or self._cookie_dirty:
            return True
        return self._manager._touch_due(self)

    def _first_record(self, now: float, expires_at: float | None) -> Record:
        """The record a new session is created with (its changes are in it)."""
        flashes = self._flashes
        if self._read_flashes:
            flashes = {k: v for k, v in flashes.items() if k not in self._read_flashes}
        self._read_flashes = None
        self._ops = []
        return Record(
            {**self._values, **self._meta} if self._meta else self._values,
            self._immutable,
            flashes,
            self._created,
            now,
            self._deadline,
            expires_at,
        )

    def _take_changes(self) -> tuple[list[Op], bool]:
        """The operations to commit (flashes read in this request included)
        and whether the times must be written even without operations."""
        ops = self._ops
        if self._read_flashes:
            ops.extend(Op("flash_delete", key) for key in self._read_flashes)
            self._read_flashes = None
        self._ops = []
        return ops, self._meta_dirty

    def _restore_changes(self, ops: list[Op]) -> None:
        """Put back operations whose commit failed (before any made since)."""
        self._ops[:0] = ops

    def _mark_stored(self, session_id: str) -> None:
        """A new session was created in the store under *session_id*."""
        self._id = session_id
        self._status = _Status.STORED
        self._cookie_dirty = True

    def _committed(self, now: float) -> bool:
        """The changes are stored; return whether the cookie must be sent."""
        self._accessed = now
        self._meta_dirty = False
        send = self._cookie_dirty
        self._cookie_dirty = False
        return send

    def _renamed(self, session_id: str) -> None:
        """The session has a new id (stored under it, if it was stored)."""
        self._id = session_id
        self._cookie_dirty = True

    def _binding(self) -> tuple[str, str] | None:
        """``(user_id, handle)`` when logged in."""
        return binding(self._meta)

    def _bind(self, meta: dict[str, Any]) -> None:
        """Replace the login binding with *meta* (reserved key -> value), as
        operations stored with the next commit."""
        texts = {key: codec.dumps(value) for key, value in meta.items()}
        for key in self._meta:
            if key not in texts:
                self._ops.append(Op("delete", key))
        for key, text in texts.items():
            self._ops.append(Op("set", key, text))
        self._meta = texts

    def _mark_destroyed(self) -> None:
        """Destroyed: nothing more is stored or sent for it."""
        self._status = _Status.DESTROYED
        self._ops = []
        self._cookie_dirty = False
