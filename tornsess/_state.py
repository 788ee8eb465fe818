"""The state of one request's session: what the request path loads, changes
and commits (scs's ``sessionData``).

:class:`SessionState` is plain data with the small steps that change it. The
user-facing :class:`tornsess.Session` changes it through these steps; the
request path (:mod:`tornsess.request`) reads it to commit, and never calls a
private method of the session. Values, flashes and the login binding are
held as :mod:`tornsess.codec` text.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .cookie import CookieOption, browser_max_age
from .database import _EMPTY, _NO_KEYS, Binding, Op, Record
from .ids import new_id

if TYPE_CHECKING:
    from tornado.web import RequestHandler

__all__ = ["SessionState", "Status"]

RESERVED = "\x00"
"""Session keys starting with this are refused (earlier releases kept the
login binding under such keys among the values)."""


class Status(enum.Enum):
    """Where a session stands against the store."""

    NEW = "new"
    """Not in the store (yet)."""
    STORED = "stored"
    """In the store, as of the last load or commit of this request."""
    DESTROYED = "destroyed"
    """Destroyed: nothing more is stored or sent for it."""


class SessionState:
    """One request's copy of a session and the changes it made.

    The mappings loaded from the store are shared, not copied, until the
    first change (``own_values``/``own_flashes``); changes are also recorded
    as a list of :class:`~tornsess.database.Op`, which the store applies atomically at
    commit.
    """

    __slots__ = (
        "handler",
        "id",
        "is_new",
        "status",
        "values",
        "binding",
        "values_owned",
        "immutable",
        "flashes",
        "flashes_owned",
        "read_flashes",
        "ops",
        "created",
        "issued",
        "accessed",
        "deadline",
        "lifetime",
        "cookie_dirty",
        "meta_dirty",
        "sealed",
        "options",
        "read_cookie",
        "socket",
        "token",
        "minted",
    )

    def __init__(
        self,
        handler: RequestHandler | None,
        session_id: str | None,
        record: Record | None,
        options: tuple[CookieOption, ...],
        lifetime: float,
        now: float,
    ) -> None:
        self.handler: RequestHandler | None = handler
        """The request's handler; ``None`` once the response has ended."""
        self.id: str | None = session_id
        """The id; ``None`` for a new session until one is needed (:meth:`ensure_id`)."""
        self.options: tuple[CookieOption, ...] = options
        """Cookie options for this session's cookie, in the order given."""
        self.ops: list[Op] = []
        """The changes not committed yet, in order."""
        self.read_flashes: set[str] | None = None
        """Flashes read in this request (deleted at commit)."""
        self.values_owned: bool = False
        self.flashes_owned: bool = False
        self.cookie_dirty: bool = False
        """The cookie must be sent with the response."""
        self.meta_dirty: bool = False
        """The times (deadline) must be written even without operations."""
        self.sealed: bool = False
        """The response headers went out: no more changes."""
        self.read_cookie: bool = record is not None
        """The request's cookie named this session."""
        self.token: str | None = None
        """The token (encoded id) the client holds: the one it sent, or the
        one this response sends."""
        self.minted: bool = False
        """:attr:`token` was made in this request for the current id (a
        renewal, a regenerate): the response sends that one."""
        self.socket: bool = False
        """The request became a WebSocket: the session outlives the
        handshake's response, and no cookie can follow it any more."""
        self.lifetime: float = lifetime
        self.binding: Binding | None = None
        """The login binding, apart from the values."""
        self.values: Mapping[str, str]
        self.flashes: Mapping[str, str]
        self.immutable: frozenset[str]
        self.created: float
        self.issued: float
        """When the current id was issued (``Config.renew_after`` counts from it)."""
        self.accessed: float
        self.deadline: float | None
        self.status: Status = Status.NEW
        self.is_new: bool = record is None
        """True if this request created the session."""
        if record is not None:
            self.load(record)
        else:
            self.values = _EMPTY
            self.flashes = _EMPTY
            self.immutable = _NO_KEYS
            self.created = now
            self.issued = now
            self.accessed = now
            self.deadline = now + lifetime if lifetime > 0 else None

    def load(self, record: Record) -> None:
        """Take the session as *record* holds it (at the start of the
        request, or again on ``Session.refresh``)."""
        self.status = Status.STORED
        self.binding = Binding.loads(record.binding)
        values = record.values
        if any(key[:1] == RESERVED for key in values):
            # Keys an earlier release used for the binding: never a login,
            # and not the application's values either.
            self.values = {k: v for k, v in values.items() if k[:1] != RESERVED}
            self.values_owned = True
        else:
            self.values = values
            self.values_owned = False
        self.flashes = record.flashes
        self.flashes_owned = False
        self.read_flashes = None
        self.immutable = record.immutable
        self.created = record.created
        self.issued = record.issued
        self.accessed = record.accessed
        self.deadline = record.deadline

    # -- what it is -------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Not destroyed."""
        return self.status is not Status.DESTROYED

    @property
    def stored(self) -> bool:
        """In the store (as of the last load or commit of this request)."""
        return self.status is Status.STORED

    def ensure_id(self) -> str:
        """The id, drawn now for a new session that has none yet."""
        if self.id is None:
            self.id = new_id()
        return self.id

    def came_with_cookie(self) -> bool:
        """The request's cookie named this session, or it was stored since."""
        return self.read_cookie or self.status is Status.STORED

    def holds_data(self) -> bool:
        """Values, flashes or a login (a new session with none is never stored)."""
        return bool(self.values or self.flashes or self.binding)

    def pending(self, save_new: bool, touch_due: bool) -> bool:
        """Whether committing would do anything (*save_new*: a new session
        is stored even without data; *touch_due*: the idle refresh is due)."""
        if self.status is Status.DESTROYED:
            return False
        if self.status is Status.NEW:
            return save_new or self.meta_dirty or self.holds_data()
        return bool(
            self.ops or self.read_flashes or self.meta_dirty or self.cookie_dirty or touch_due
        )

    def cookie_max_age(self, now: float) -> float | None:
        """The cookie's Max-Age for the session's lifetime (``None``: a
        browser-session cookie)."""
        if self.deadline is not None:
            return browser_max_age(max(self.deadline - now, 1.0))
        return browser_max_age(min(self.lifetime, 0.0))

    # -- changes the user makes ---------------------------------------------------

    def own_values(self) -> dict[str, str]:
        """The values as this request's own dict, to change."""
        if not self.values_owned:
            self.values = dict(self.values)
            self.values_owned = True
        return self.values  # type: ignore[return-value]

    def own_flashes(self) -> dict[str, str]:
        """The flashes as this request's own dict, to change."""
        if not self.flashes_owned:
            self.flashes = dict(self.flashes)
            self.flashes_owned = True
        return self.flashes  # type: ignore[return-value]

    def mark_read(self, key: str) -> None:
        """The flash under *key* was read: it is deleted at commit."""
        if self.read_flashes is None:
            self.read_flashes = set()
        self.read_flashes.add(key)

    def set_lifetime(self, seconds: float, now: float) -> None:
        """A new lifetime from *now* (as ``Config.expires``), stored and sent
        with the cookie at commit."""
        self.lifetime = seconds
        self.deadline = now + seconds if seconds > 0 else None
        self.meta_dirty = True
        self.cookie_dirty = True

    def clear_all(self) -> None:
        """Clear the values, immutable entries and flashes, as operations
        stored with the next commit (the binding is a part of its own)."""
        self.values = {}
        self.values_owned = True
        self.immutable = _NO_KEYS
        self.flashes = {}
        self.flashes_owned = True
        self.read_flashes = None
        self.ops.append(Op("clear"))
        self.ops.append(Op("flash_clear"))

    def bind(self, binding: Binding | None) -> None:
        """Replace the login binding, as an operation stored with the next
        commit."""
        self.binding = binding
        if binding is None:
            self.ops.append(Op("bind"))
        else:
            self.ops.append(Op("bind", binding.tag, binding.dumps()))

    # -- what the commit does -------------------------------------------------------

    def first_record(self, now: float, expires_at: float | None) -> Record:
        """The record a new session is created with (its changes are in it)."""
        flashes = self.flashes
        if self.read_flashes:
            flashes = {k: v for k, v in flashes.items() if k not in self.read_flashes}
        self.read_flashes = None
        self.ops = []
        return Record(
            self.values,
            self.immutable,
            flashes,
            self.created,
            now,
            self.deadline,
            expires_at,
            None if self.binding is None else self.binding.dumps(),
            self.issued,
        )

    def take_changes(self) -> tuple[list[Op], bool]:
        """The operations to commit (flashes read in this request included)
        and whether the times must be written even without operations."""
        ops = self.ops
        if self.read_flashes:
            ops.extend(Op("flash_delete", key) for key in self.read_flashes)
            self.read_flashes = None
        self.ops = []
        return ops, self.meta_dirty

    def restore_changes(self, ops: list[Op]) -> None:
        """Put back operations whose commit failed (before any made since)."""
        self.ops[:0] = ops

    def mark_stored(self, session_id: str) -> None:
        """A new session was created in the store under *session_id*."""
        self.id = session_id
        self.status = Status.STORED
        self.cookie_dirty = True

    def committed(self, now: float) -> bool:
        """The changes are stored; return whether the cookie must be sent."""
        self.accessed = now
        self.meta_dirty = False
        send = self.cookie_dirty
        self.cookie_dirty = False
        return send

    def renamed(self, session_id: str, issued: float) -> None:
        """The session has a new id issued at *issued* (stored under it, if
        it was stored): the response sends it."""
        self.id = session_id
        self.issued = issued
        self.cookie_dirty = True

    def moved(self, session_id: str, issued: float) -> None:
        """The id this request holds was renewed by a concurrent request, to
        *session_id*, issued at *issued* (or about then): the request goes
        on under it, and the response sends it (not on a WebSocket, where
        none can follow)."""
        self.id = session_id
        self.issued = max(self.issued, issued)
        if not self.socket:
            self.cookie_dirty = True

    def mark_destroyed(self) -> None:
        """Destroyed: nothing more is stored or sent for it."""
        self.status = Status.DESTROYED
        self.ops = []
        self.cookie_dirty = False

    def release(self) -> None:
        """The response has ended: refuse changes, and let go of the handler
        (the handler holds this session: a cycle otherwise)."""
        self.sealed = True
        self.handler = None
