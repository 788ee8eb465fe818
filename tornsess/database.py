"""The :class:`Database` protocol that session stores implement, and
:class:`MemoryDatabase`, the embedded default store.

A request loads its session in one call (:meth:`Database.load`) and records
its changes as a list of :class:`Op`; at the end of the request they are
applied in one call (:meth:`Database.commit`), atomically and per key, so
concurrent requests that change different keys both survive and increments
add up. Stores outside the process (Redis, SQLite) file sessions under
:func:`tornsess.ids.store_key` (a SHA-256 of the id), never under the id
itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from . import codec
from .errors import ImmutableEntry, SessionInterrupted, SessionMoved
from .ids import is_valid_id

__all__ = [
    "UserIndex",
    "Database",
    "MemoryDatabase",
    "Op",
    "OpKind",
    "Record",
    "Renewable",
    "apply_ops",
]

log: logging.Logger = logging.getLogger("tornsess")

OpKind = Literal[
    "set",
    "set_immutable",
    "delete",
    "clear",
    "incr",
    "flash_set",
    "flash_delete",
    "flash_clear",
    "bind",
]

_EMPTY: Mapping[str, str] = {}
_NO_KEYS: frozenset[str] = frozenset()


class Op(NamedTuple):
    """One change a request made to its session, in the order it was made.

    ``value`` is the :mod:`tornsess.codec` text of the value for ``set``,
    ``set_immutable`` and ``flash_set``, and of the amount for ``incr``.
    ``bind`` replaces the login binding (:attr:`Record.binding`): ``value``
    is its text, ``key`` its user tag; both are empty to remove it.
    """

    kind: OpKind
    key: str = ""
    value: str = ""


class Record:
    """A loaded session: what :meth:`Database.load` returns.

    ``values`` and ``flashes`` map keys to :mod:`tornsess.codec` text;
    ``immutable`` holds the keys written with ``set_immutable``;
    ``binding`` is the login binding's text (:class:`Binding`), or ``None``:
    a part of its own, apart from the values, so that nothing written as a
    value can ever make a session logged in. Times are
    UNIX timestamps: ``deadline`` is the absolute end of life (``None``: no
    absolute limit) and ``expires_at`` the instant the store may forget the
    session (the earlier of ``deadline`` and last access plus the idle
    timeout; ``None``: never); ``issued`` is when the session's current
    id was issued (its creation, a regenerate, a login or a renewal), which
    ``Config.renew_after`` counts from. ``successor`` is set only when the
    id asked for is a renewed session's old id in its grace window: the
    record is then the renewed session's, and ``successor`` the sealed text
    of its id (:func:`tornsess.ids.seal_successor`). Callers must not mutate
    the mappings.
    """

    __slots__ = (
        "values",
        "immutable",
        "flashes",
        "created",
        "accessed",
        "deadline",
        "expires_at",
        "binding",
        "issued",
        "successor",
    )

    def __init__(
        self,
        values: Mapping[str, str],
        immutable: frozenset[str],
        flashes: Mapping[str, str],
        created: float,
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
        binding: str | None = None,
        issued: float | None = None,
        successor: str | None = None,
    ) -> None:
        self.values: Mapping[str, str] = values
        """Key -> :mod:`tornsess.codec` text of the value."""
        self.immutable: frozenset[str] = immutable
        """The keys written with ``set_immutable``."""
        self.flashes: Mapping[str, str] = flashes
        """Key -> :mod:`tornsess.codec` text of the flash."""
        self.created: float = created
        """When the session was created (UNIX time)."""
        self.accessed: float = accessed
        """When the session was last stored as active (UNIX time)."""
        self.deadline: float | None = deadline
        """The absolute end of life (UNIX time), or ``None``."""
        self.expires_at: float | None = expires_at
        """When the store may forget the session (UNIX time), or ``None``."""
        self.binding: str | None = binding
        """The login binding's text (:meth:`Binding.loads`), or ``None``."""
        self.issued: float = created if issued is None else issued
        """When the current id was issued (UNIX time; the creation by default)."""
        self.successor: str | None = successor
        """The sealed text of the id that replaced the one asked for, while
        that old id is in its grace window; ``None`` otherwise."""

    def __repr__(self) -> str:
        return (
            f"Record(values={dict(self.values)!r}, immutable={set(self.immutable)!r}, "
            f"flashes={dict(self.flashes)!r}, created={self.created!r}, "
            f"accessed={self.accessed!r}, deadline={self.deadline!r}, "
            f"expires_at={self.expires_at!r}, binding={self.binding!r}, "
            f"issued={self.issued!r}, successor={self.successor!r})"
        )


@dataclasses.dataclass(frozen=True)
class Binding:
    """What :meth:`Session.login <tornsess.Session.login>` binds to a
    session, stored as its own part of the record (:attr:`Record.binding`),
    never among the values."""

    user_id: str
    """The user the session is logged in as."""
    handle: str
    """The session's handle (device lists, revoke links)."""
    tag: str
    """The user's index tag (:func:`tornsess.ids.user_tag`)."""
    login: float
    """When it was logged in (UNIX time)."""
    ip: str | None = None
    """The client's address at login, with ``Config(record_client=True)``."""
    user_agent: str | None = None
    """The client's User-Agent at login, with ``Config(record_client=True)``."""

    def dumps(self) -> str:
        """The stored text."""
        return codec.dumps(
            {
                "user": self.user_id,
                "handle": self.handle,
                "tag": self.tag,
                "login": self.login,
                "ip": self.ip,
                "ua": self.user_agent,
            }
        )

    @classmethod
    def loads(cls, text: str | None) -> Binding | None:
        """The binding stored as *text*, or ``None`` for none or for text
        that is not a binding (logged: a store holds something it did not
        write)."""
        if not text:
            return None
        try:
            data = codec.loads(text)
            user, handle, tag, login = data["user"], data["handle"], data["tag"], data["login"]
            ip, agent = data.get("ip"), data.get("ua")
        except (ValueError, TypeError, KeyError, AttributeError):
            data = None
        if (
            data is None
            or not all(isinstance(part, str) and part for part in (user, handle, tag))
            or type(login) not in (int, float)
            or not all(part is None or isinstance(part, str) for part in (ip, agent))
        ):
            log.warning("tornsess: ignoring a stored login binding that cannot be read")
            return None
        return cls(user, handle, tag, float(login), ip, agent)


def _add(current: str | None, amount: str, key: str) -> str:
    if current is None:
        current = "0"
    base = codec.loads(current)
    step = codec.loads(amount)
    if type(base) not in (int, float):
        raise TypeError(f"cannot increment {key!r}: it holds {type(base).__name__}")
    return codec.dumps(base + step)


def apply_ops(
    values: dict[str, str],
    immutable: set[str],
    flashes: dict[str, str],
    ops: Sequence[Op],
    binding: str | None = None,
) -> str | None:
    """Apply *ops* in order to the given (caller-owned) collections, and
    return the login binding after them: *binding* (the stored one) unless a
    ``bind`` operation replaced it.

    A reference implementation for stores that hold a session in one place.
    Raises :class:`ImmutableEntry` for a ``set`` or ``delete`` of an
    immutable key and :class:`TypeError` for ``incr`` of a non-number.
    """
    for op in ops:
        kind = op.kind
        if kind == "set":
            if op.key in immutable:
                raise ImmutableEntry(op.key)
            values[op.key] = op.value
        elif kind == "set_immutable":
            values[op.key] = op.value
            immutable.add(op.key)
        elif kind == "delete":
            if op.key in immutable:
                raise ImmutableEntry(op.key)
            values.pop(op.key, None)
        elif kind == "clear":
            values.clear()
            immutable.clear()
        elif kind == "incr":
            if op.key in immutable:
                raise ImmutableEntry(op.key)
            values[op.key] = _add(values.get(op.key), op.value, op.key)
        elif kind == "flash_set":
            flashes[op.key] = op.value
        elif kind == "flash_delete":
            flashes.pop(op.key, None)
        elif kind == "flash_clear":
            flashes.clear()
        elif kind == "bind":
            binding = op.value or None
        else:  # pragma: no cover - OpKind is closed
            raise ValueError(f"unknown operation {kind!r}")
    return binding


@runtime_checkable
class Database(Protocol):
    """What a session store implements. Every method is a coroutine and
    takes the session id; the store derives its own key from it (use
    :func:`tornsess.ids.store_key`). Errors reaching the store should be
    raised as :class:`tornsess.StoreUnavailable`, which the request path turns
    into a 503.

    A store that implements :class:`Renewable` keeps renewed sessions' old
    ids as aliases for a grace window. :meth:`load` of such an id returns
    the renewed session with :attr:`Record.successor` set; :meth:`commit`,
    :meth:`touch`, :meth:`rename` and :meth:`destroy` write nothing under it
    and raise :class:`tornsess.errors.SessionMoved` with the alias's sealed
    text, and the request path repeats the call under the new id;
    :meth:`exists` counts it as taken. A store without renewal never meets
    an alias.
    """

    async def load(self, session_id: str) -> Record | None:
        """The session, or ``None`` if it does not exist or has expired.
        One round trip."""
        ...

    async def create(self, session_id: str, record: Record) -> bool:
        """Store a new session; ``False`` (and nothing written) if the id
        already exists."""
        ...

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        """Apply *ops* atomically and set the times, in one round trip.

        :raises tornsess.SessionInterrupted: the session no longer exists
            (nothing is written; it is not brought back).
        """
        ...

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        """Record activity without changing data; ``False`` if the session
        is gone."""
        ...

    async def rename(self, old_id: str, new_id: str) -> bool:
        """Move a session to a new id; the old id is dead at once, with no
        grace window (a regenerate or a login: they defend against
        fixation). A :class:`Renewable` store's ``rename`` also takes when
        the new id was issued.

        ``False`` if *new_id* is taken. :raises tornsess.SessionInterrupted:
        the session under *old_id* no longer exists.
        """
        ...

    async def exists(self, session_id: str) -> bool:
        """Whether a live session has this id."""
        ...

    async def destroy(self, session_id: str) -> bool:
        """Remove the session; ``True`` if it existed."""
        ...

    async def destroy_all(self) -> list[str]:
        """Remove every session of this store; return the ids this store
        knows of them (stores that keep only hashed keys return ``[]``)."""
        ...

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        """Register ``listener(session_id)`` for expirations the store
        detects itself; it is called once per expired session it knows the
        id of."""
        ...

    async def close(self) -> None:
        """Release connections and background work."""
        ...


@runtime_checkable
class Renewable(Protocol):
    """The optional part of a store that renews ids with a grace window
    (``Config.renew_after``). Every bundled store implements it."""

    async def rename(self, old_id: str, new_id: str, issued: float | None = None) -> bool:
        """:meth:`Database.rename`, which also sets :attr:`Record.issued` to
        *issued* (``None``: now)."""
        ...

    async def renew(
        self, old_id: str, new_id: str, sealed: str, issued: float, grace_until: float
    ) -> bool | str:
        """Renew a session's id, atomically: move the session under *old_id*
        to *new_id* (values, flashes, binding and times as they are, the
        user index entry re-pointed, :attr:`Record.issued` set to *issued*),
        and keep *old_id* until *grace_until* (UNIX time) as an alias that
        holds *sealed* (:func:`tornsess.ids.seal_successor`, opaque to the
        store) and names the renewed session.

        Returns ``True`` when renewed; ``False`` (nothing written) when
        *new_id* is taken; the alias's sealed text (nothing written) when
        *old_id* is already an alias, renewed by a concurrent request, so
        that both requests end on one new id.

        :raises tornsess.SessionInterrupted: no session under *old_id*.
        """
        ...


@runtime_checkable
class UserIndex(Protocol):
    """The optional part of a store that keeps, per user, the sessions
    logged in as that user, so that listing and revoking them costs
    O(that user's sessions). Every bundled store implements it.

    A user is named by its *tag* (:func:`tornsess.ids.user_tag`); an entry
    maps a session's *handle* to the session. The manager adds an entry at
    login and after a regenerate, and removes it on destroy; a store keeps
    it right by itself across expiry, ``destroy_by_id`` and ``destroy_all``,
    or prunes what it finds dead when the index is read.

    Two rules keep a live session from ever dropping out of its index:

    - An index must live at least as long as every session it lists: a
      store that expires an index (Redis) moves its expiry with every call
      that moves a logged-in session's (``commit``, ``touch``), finding the
      index from the binding's tag (:attr:`Record.binding`, the ``bind``
      operation's key).
    - A reader or a revoke removes an entry only if it still points at the
      session it found dead, atomically: a regenerate that re-pointed it
      meanwhile keeps it.
    """

    async def index_add(
        self, tag: str, handle: str, session_id: str, expires_at: float | None
    ) -> None:
        """File *handle* -> *session_id* under *tag* (replacing an entry of
        the same handle); the index lives at least until *expires_at*."""
        ...

    async def index_remove(self, tag: str, handle: str) -> None:
        """Drop the entry of *handle* (the session itself is left alone)."""
        ...

    async def index_sessions(self, tag: str) -> list[tuple[str, Record]]:
        """``(handle, record)`` for every live session under *tag*, in one
        call per session at most; entries whose session is gone are pruned."""
        ...

    async def index_destroy(self, tag: str, handle: str) -> tuple[bool, str | None]:
        """Destroy the session of *handle* and drop its entry; return whether
        it existed, and its id if the store knows it."""
        ...


class Sweeper:
    """Calls *sweep* every *interval* seconds on the running loop while
    *needed* says so: one timer per store, never one per session."""

    def __init__(
        self, sweep: Callable[[], object], interval: float, needed: Callable[[], bool]
    ) -> None:
        self._sweep = sweep
        self._interval = interval
        self._needed = needed
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[asyncio.Future[object]] = set()  # sweeps under way

    def ensure(self) -> None:
        """Start the timer on the running loop, if it is not running there."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is not None and not self._timer.cancelled() and self._loop is loop:
            return
        self._loop = loop
        self._timer = loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            result = self._sweep()
            if asyncio.iscoroutine(result):
                task = asyncio.ensure_future(result)
                self._running.add(task)
                task.add_done_callback(self._done)
        except Exception:  # pragma: no cover - defensive
            log.exception("tornsess: session sweep failed")
        if self._needed():
            self.ensure()

    def _done(self, task: asyncio.Future[object]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("tornsess: session sweep failed: %s", task.exception())

    async def stop(self) -> None:
        """Stop the timer, and the sweeps under way on the running loop (they
        are cancelled, and this returns once they have ended), so that a
        store's ``close`` leaves no sweep behind to be destroyed with its
        loop."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        here = [task for task in self._running if task.get_loop() is loop]
        for task in here:
            task.cancel()
        if here:
            await asyncio.wait(here)


class _Entry(Record):
    """A stored session: its record, plus the expiry time of its one live
    entry on the sweep heap. The store's dict is keyed by the id itself (the
    store lives in the process anyway), so expirations are reported from
    the key and the entry does not hold the id a second time."""

    __slots__ = ("scheduled",)

    def __init__(self, record: Record) -> None:
        super().__init__(
            record.values,
            record.immutable,
            record.flashes,
            record.created,
            record.accessed,
            record.deadline,
            record.expires_at,
            record.binding,
            record.issued,
        )
        self.scheduled: float | None = None


class MemoryDatabase:
    """The embedded default store: sessions in this process's memory.

    Sessions do not survive a restart and are not shared between processes;
    use ``RedisDatabase`` or ``SQLiteDatabase`` for that. Expired sessions are
    never returned; a periodic sweep (every *sweep_interval* seconds, started
    with the first session) removes them at a cost that grows with the
    number of expired sessions only (a heap ordered by expiry).

    With *max_sessions*, creating a session in a full store first sweeps
    the expired ones, then evicts the oldest sessions (by creation) to make
    room; evicted sessions are reported to ``on_destroy`` like expired ones.

    Loading shares the stored mappings with the request (no copy); a commit
    replaces them rather than changing them in place, so every request sees
    a consistent snapshot.

    The sweep heap holds at most one live entry per session: a commit that
    moves a session's expiry later (the idle timeout, on every write) adds
    nothing; the sweep finds the old entry due, sees the later expiry and
    re-files the session once. Entries of destroyed sessions are dropped when
    they fall due, or all at once when they outnumber the live sessions, so
    the store's memory follows the live sessions, not the traffic.

    Ids are held to the rule every store follows
    (:func:`tornsess.ids.is_valid_id`): any other id is never created, and
    so never found.

    Unlike the Redis and SQLite stores, this one files sessions under the id
    itself, not its SHA-256: it lives in the process, next to the ids it
    reports to ``on_destroy`` anyway, and a hash would cost every request.
    """

    def __init__(
        self,
        *,
        sweep_interval: float = 60.0,
        max_sessions: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if sweep_interval <= 0:
            raise ValueError("sweep_interval must be positive")
        if max_sessions is not None and max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self._max = max_sessions
        self._data: dict[str, _Entry] = {}
        self._users: dict[str, dict[str, str]] = {}  # tag -> {handle: id}
        # Renewed sessions' old ids in their grace window:
        # old id -> (new id, sealed text, end of the window).
        self._aliases: dict[str, tuple[str, str, float]] = {}
        self._heap: list[tuple[float, str]] = []
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._sweeper = Sweeper(self.sweep, sweep_interval, lambda: bool(self._heap))
        self._listener: Callable[[str], None] | None = None

    def __len__(self) -> int:
        return len(self._data)

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        self._listener = listener

    def _schedule(self, key: str, entry: _Entry) -> None:
        """File *entry* on the sweep heap, unless its entry there falls due
        no later than its expiry (the sweep re-files it then)."""
        expires_at = entry.expires_at
        if expires_at is None:
            return
        scheduled = entry.scheduled
        if scheduled is not None and scheduled <= expires_at:
            return
        entry.scheduled = expires_at
        heap = self._heap
        heapq.heappush(heap, (expires_at, key))
        if len(heap) > 2 * len(self._data) + 64:
            self._compact()
        self._sweeper.ensure()

    def _compact(self) -> None:
        """Rebuild the heap from the live sessions' entries (drops entries
        of destroyed sessions and superseded ones)."""
        self._heap = [
            (entry.scheduled, key)
            for key, entry in self._data.items()
            if entry.scheduled is not None
        ]
        heapq.heapify(self._heap)

    @property
    def heap_size(self) -> int:
        """Entries on the sweep heap (at most about twice the live sessions)."""
        return len(self._heap)

    def sweep(self) -> int:
        """Remove every expired session now; return how many were removed."""
        now = self._clock()
        if self._aliases:
            for old, (_, _, until) in list(self._aliases.items()):
                if until <= now:
                    del self._aliases[old]
        heap = self._heap
        removed = 0
        while heap and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is None or entry.scheduled != due:
                continue  # destroyed, or filed again earlier
            entry.scheduled = None
            if entry.expires_at is not None and entry.expires_at <= now:
                self._expire(key, entry)
                removed += 1
            else:
                self._schedule(key, entry)  # its expiry moved later
        return removed

    def _expire(self, key: str, entry: _Entry) -> None:
        del self._data[key]
        self._unindex(entry)
        if self._listener is not None:
            self._listener(key)

    def _unindex(self, entry: Record) -> None:
        """Drop the index entry of a logged-in session that is going away."""
        if not self._users:
            return
        bound = Binding.loads(entry.binding)
        if bound is not None:
            self._drop(bound.tag, bound.handle)

    def _drop(self, tag: str, handle: str) -> None:
        entries = self._users.get(tag)
        if entries is not None:
            entries.pop(handle, None)
            if not entries:
                del self._users[tag]

    def _alias(self, key: str) -> tuple[str, str, float] | None:
        """The alias *key* is in its grace window, or ``None``."""
        alias = self._aliases.get(key)
        if alias is not None and alias[2] <= self._clock():
            del self._aliases[key]
            return None
        return alias

    def _moved(self, key: str) -> None:
        """Raise :class:`SessionMoved` if *key* is a renewed session's old id."""
        if self._aliases:
            alias = self._alias(key)
            if alias is not None:
                raise SessionMoved(alias[1])

    def _live(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock():
            self._expire(key, entry)
            return None
        return entry

    async def load(self, session_id: str) -> Record | None:
        entry = self._live(session_id)
        if entry is not None or not self._aliases:
            return entry
        alias = self._alias(session_id)
        if alias is None:
            return None
        target = self._live(alias[0])
        if target is None:
            return None
        return Record(
            target.values,
            target.immutable,
            target.flashes,
            target.created,
            target.accessed,
            target.deadline,
            target.expires_at,
            target.binding,
            target.issued,
            alias[1],
        )

    async def create(self, session_id: str, record: Record) -> bool:
        if not is_valid_id(session_id):
            return False
        key = session_id
        if self._live(key) is not None or (self._aliases and self._alias(key) is not None):
            return False
        stored = Record(
            dict(record.values) or _EMPTY,
            frozenset(record.immutable) or _NO_KEYS,
            dict(record.flashes) or _EMPTY,
            record.created,
            record.accessed,
            record.deadline,
            record.expires_at,
            record.binding,
            record.issued,
        )
        if self._max is not None and len(self._data) >= self._max:
            self._make_room()
        entry = self._data[key] = _Entry(stored)
        self._schedule(key, entry)
        return True

    def _make_room(self) -> None:
        assert self._max is not None
        self.sweep()
        while len(self._data) >= self._max:
            oldest = next(iter(self._data))
            self._expire(oldest, self._data[oldest])

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        key = session_id
        entry = self._live(key)
        if entry is None:
            self._moved(key)
            raise SessionInterrupted("the session was destroyed or expired")
        if ops:
            # The stored mappings are replaced, never changed in place: a
            # request that loaded them keeps a consistent snapshot, and the
            # entry is untouched if an operation fails.
            values = dict(entry.values)
            immutable = set(entry.immutable)
            flashes = dict(entry.flashes)
            entry.binding = apply_ops(values, immutable, flashes, ops, entry.binding)
            entry.values = values or _EMPTY
            entry.immutable = frozenset(immutable) or _NO_KEYS
            entry.flashes = flashes or _EMPTY
        entry.accessed = accessed
        entry.deadline = deadline
        if expires_at != entry.expires_at:
            entry.expires_at = expires_at
            self._schedule(key, entry)

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        key = session_id
        entry = self._live(key)
        if entry is None:
            self._moved(key)
            return False
        entry.accessed = accessed
        if expires_at != entry.expires_at:
            entry.expires_at = expires_at
            self._schedule(key, entry)
        return True

    async def rename(self, old_id: str, new_id: str, issued: float | None = None) -> bool:
        if not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old_key, new_key = old_id, new_id
        entry = self._live(old_key)
        if entry is None:
            self._moved(old_key)
            raise SessionInterrupted("the session was destroyed or expired")
        if await self.exists(new_key):
            return False
        self._move(old_key, new_key, entry, self._clock() if issued is None else issued)
        return True

    def _move(self, old_key: str, new_key: str, entry: _Entry, issued: float) -> None:
        del self._data[old_key]
        entry.scheduled = None  # the old key's heap entry is dropped when due
        entry.issued = issued
        self._data[new_key] = entry
        self._schedule(new_key, entry)

    async def renew(
        self, old_id: str, new_id: str, sealed: str, issued: float, grace_until: float
    ) -> bool | str:
        if not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        entry = self._live(old_id)
        if entry is None:
            alias = self._alias(old_id)
            if alias is not None:
                return alias[1]
            raise SessionInterrupted("the session was destroyed or expired")
        if await self.exists(new_id):
            return False
        self._move(old_id, new_id, entry, issued)
        bound = Binding.loads(entry.binding) if self._users else None
        if bound is not None and self._users.get(bound.tag, {}).get(bound.handle) == old_id:
            self._users[bound.tag][bound.handle] = new_id
        self._aliases[old_id] = (new_id, sealed, grace_until)
        return True

    async def exists(self, session_id: str) -> bool:
        if self._live(session_id) is not None:
            return True
        return bool(self._aliases) and self._alias(session_id) is not None

    async def destroy(self, session_id: str) -> bool:
        key = session_id
        entry = self._live(key)
        if entry is None:
            self._moved(key)
            return False
        del self._data[key]
        self._unindex(entry)
        return True

    async def destroy_all(self) -> list[str]:
        ids = list(self._data)
        self._data.clear()
        self._heap.clear()
        self._users.clear()
        self._aliases.clear()
        return ids

    # -- the user index ---------------------------------------------------------

    async def index_add(
        self, tag: str, handle: str, session_id: str, expires_at: float | None
    ) -> None:
        self._users.setdefault(tag, {})[handle] = session_id

    async def index_remove(self, tag: str, handle: str) -> None:
        self._drop(tag, handle)

    async def index_sessions(self, tag: str) -> list[tuple[str, Record]]:
        entries = self._users.get(tag)
        if not entries:
            return []
        found: list[tuple[str, Record]] = []
        for handle, session_id in list(entries.items()):
            entry = self._live(session_id)
            if entry is None:
                self._drop(tag, handle)
            else:
                found.append((handle, entry))
        return found

    async def index_destroy(self, tag: str, handle: str) -> tuple[bool, str | None]:
        session_id = self._users.get(tag, {}).get(handle)
        if session_id is None:
            return False, None
        self._drop(tag, handle)
        entry = self._live(session_id)
        if entry is None:
            return False, None
        del self._data[session_id]
        return True, session_id

    async def close(self) -> None:
        await self._sweeper.stop()
