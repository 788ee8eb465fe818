"""SQLiteDatabase: sessions in one SQLite file, kept across restarts."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..database import Op, Record, Sweeper, apply_ops
from ..errors import ConfigError, SessionInterrupted, SessionMoved, StoreUnavailable
from ..ids import is_valid_id, store_key

__all__ = ["SQLiteDatabase"]

T = TypeVar("T")

log: logging.Logger = logging.getLogger("tornsess")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tornsess_sessions (
    key TEXT PRIMARY KEY,
    sid TEXT,
    created REAL NOT NULL,
    accessed REAL NOT NULL,
    deadline REAL,
    expires_at REAL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tornsess_sessions_expiry
    ON tornsess_sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS tornsess_users (
    handle TEXT PRIMARY KEY,
    tag TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tornsess_users_tag ON tornsess_users (tag);
CREATE INDEX IF NOT EXISTS tornsess_users_key ON tornsess_users (key);
CREATE TABLE IF NOT EXISTS tornsess_aliases (
    key TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    sealed TEXT NOT NULL,
    until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tornsess_aliases_until ON tornsess_aliases (until);
"""

# A renewed session's old key in its grace window: its sealed successor.
_ALIAS = "SELECT sealed FROM tornsess_aliases WHERE key = ? AND until > ?"


def _pack(
    values: Any, immutable: Any, flashes: Any, binding: str | None, issued: float | None
) -> str:
    """A row's data: its values, immutable keys, flashes, login binding
    (``"b"``, a part of its own, never among the values) and when its id was
    issued (``"t"``; a row written before renewal existed has none: its
    creation) as compact JSON (the values, flashes and binding are
    :mod:`tornsess.codec` text already)."""
    data: dict[str, Any] = {"v": dict(values), "i": sorted(immutable), "f": dict(flashes)}
    if binding is not None:
        data["b"] = binding
    if issued is not None:
        data["t"] = issued
    return json.dumps(data, separators=(",", ":"))


class _Unreadable(Exception):
    """A row this store cannot read (not JSON of its shape)."""


def _entries(loaded: object, field: str) -> dict[str, str]:
    """The str-to-str entries of one mapping of a row; entries of another
    type are logged and left out (as corrupt values are elsewhere)."""
    if not isinstance(loaded, dict):
        raise _Unreadable(f"the {field}s are not an object")
    entries = {}
    for name, value in loaded.items():
        if isinstance(value, str):
            entries[name] = value
        else:
            log.warning(
                "tornsess: ignoring corrupt stored %s entry %r in a SQLite row", field, name
            )
    return entries


_Unpacked = tuple[dict[str, str], set[str], dict[str, str], str | None, float | None]


def _unpack(data: object) -> _Unpacked:
    """A row's values, immutable keys, flashes, binding and issue time
    (``None``: not recorded). JSON is the only format ever parsed (never
    pickle): anything else raises :class:`_Unreadable`."""
    if not isinstance(data, str):
        raise _Unreadable(f"data is {type(data).__name__}, not JSON text")
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(f"not JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise _Unreadable(f"not a JSON object but {type(loaded).__name__}")
    immutable = loaded.get("i", [])
    if not isinstance(immutable, list):
        raise _Unreadable("'i' is not a list")
    binding = loaded.get("b")
    issued = loaded.get("t")
    return (
        _entries(loaded.get("v"), "value"),
        {name for name in immutable if isinstance(name, str)},
        _entries(loaded.get("f", {}), "flash"),
        binding if isinstance(binding, str) else None,
        None if issued is None else _time(issued),
    )


def _record(
    times: tuple[float, float, float | None, float | None],
    data: object,
    successor: str | None = None,
) -> Record:
    """A row's Record from its checked times and its data (``_Unreadable``
    if the data cannot be read); *successor* for a load through an alias."""
    created, accessed, deadline, expires_at = times
    values, immutable, flashes, binding, issued = _unpack(data)
    return Record(
        values,
        frozenset(immutable),
        flashes,
        created,
        accessed,
        deadline,
        expires_at,
        binding,
        issued,
        successor,
    )


def _time(value: object) -> float:
    """A stored time, as a float. :raises _Unreadable: not a finite number
    (a JSON integer too large for a float included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unreadable("a time is not a number")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise _Unreadable("a time is not finite")
    return seconds


def _times(row: Sequence[Any]) -> tuple[float, float, float | None, float | None]:
    created, accessed, deadline, expires_at = row
    return (
        _time(created),
        _time(accessed),
        None if deadline is None else _time(deadline),
        None if expires_at is None else _time(expires_at),
    )


def _text(value: bytes) -> str | bytes:
    """The connections' ``text_factory``: text as ``str``, or left as
    ``bytes`` if it is not UTF-8 (a row this store did not write), which
    every reader takes for unreadable rather than failing the query."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value


def _moved(conn: sqlite3.Connection, key: str, now: float) -> str | None:
    """The sealed successor if *key* is a renewed session's old key in its
    grace window, else ``None``."""
    row = conn.execute(_ALIAS, (key, now)).fetchone()
    return row[0] if row is not None and isinstance(row[0], str) else None


def _lock_live(conn: sqlite3.Connection, key: str, now: float) -> _Unpacked | str | None:
    """Begin a write transaction and read the live session under *key*.

    Its unpacked row, with the transaction open; else, the transaction
    ended: the sealed successor if *key* is a renewed session's old key in
    its grace window, ``None`` if no live session has it (an unreadable row
    is deleted, with its index entries)."""
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute(
        "SELECT data FROM tornsess_sessions WHERE key = ? AND "
        "(expires_at IS NULL OR expires_at > ?)",
        (key, now),
    ).fetchone()
    if row is None:
        moved = _moved(conn, key, now)
        conn.execute("ROLLBACK")
        return moved
    try:
        return _unpack(row[0])
    except _Unreadable as exc:
        _drop_unreadable(conn, key, exc)
        conn.execute("COMMIT")
        return None


def _drop_unreadable(conn: sqlite3.Connection, key: str, exc: _Unreadable) -> None:
    """Delete the unreadable row under *key* (not a row this store wrote:
    the session is absent, for good) and its index entries, and say so."""
    conn.execute("DELETE FROM tornsess_sessions WHERE key = ?", (key,))
    conn.execute("DELETE FROM tornsess_users WHERE key = ?", (key,))
    log.warning("tornsess: removed an unreadable SQLite session row (%s)", exc)


def _taken(conn: sqlite3.Connection, key: str, now: float) -> bool:
    """Whether a live session, or a renewed session's old id in its grace
    window, has *key*."""
    row = conn.execute(
        "SELECT 1 FROM tornsess_sessions WHERE key = ? AND "
        "(expires_at IS NULL OR expires_at > ?) "
        "UNION ALL SELECT 1 FROM tornsess_aliases WHERE key = ? AND until > ?",
        (key, now, key, now),
    ).fetchone()
    return row is not None


def _load_alias(conn: sqlite3.Connection, key: str, now: float) -> Record | None:
    """The renewed session whose old key (in its grace window) is *key*,
    with its sealed successor; ``None`` if there is none, or it is gone,
    expired or unreadable (left to its own load, or the sweep)."""
    row = conn.execute(
        "SELECT s.created, s.accessed, s.deadline, s.expires_at, s.data, a.sealed "
        "FROM tornsess_aliases a JOIN tornsess_sessions s ON s.key = a.target "
        "WHERE a.key = ? AND a.until > ? AND (s.expires_at IS NULL OR s.expires_at > ?)",
        (key, now, now),
    ).fetchone()
    if row is None or not isinstance(row[5], str):
        return None
    try:
        return _record(_times(row[:4]), row[4], row[5])
    except _Unreadable:
        return None


class _Worker:
    """The one thread that does all of a store's database work.

    Lighter than a ``ThreadPoolExecutor`` behind ``run_in_executor``: a job is
    a tuple on a C queue, and its result is handed to the event loop with one
    ``call_soon_threadsafe``, without a ``concurrent.futures.Future`` chained
    to an asyncio one.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, function: Callable[[], T]) -> asyncio.Future[T]:
        """Run *function* on the thread; its result, for the running loop."""
        if self._closed:
            raise RuntimeError("the database thread is shut down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((function, loop, future))
        return future

    def call(self, function: Callable[[], T]) -> T:
        """Run *function* on the thread and wait for it (no event loop)."""
        reply: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._jobs.put((function, None, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def shutdown(self) -> None:
        """Let the thread end once the jobs before this call are done."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)

    def _serve(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            function, loop, target = job
            try:
                result = function()
            except BaseException as exc:
                if loop is None:
                    target.put((False, exc))
                else:
                    _hand_over(loop, target.set_exception, target, exc)
                continue
            if loop is None:
                target.put((True, result))
            else:
                _hand_over(loop, target.set_result, target, result)


def _hand_over(
    loop: asyncio.AbstractEventLoop,
    setter: Callable[[Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    try:
        loop.call_soon_threadsafe(_settle, setter, future, value)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


def _settle(setter: Callable[[Any], None], future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # not cancelled meanwhile (a timeout, say)
        setter(value)


class SQLiteDatabase:
    """Sessions in one SQLite file (WAL mode), for one machine that must keep
    sessions across restarts.

    All database work runs on one dedicated thread, so the IOLoop never
    blocks on the disk, and that thread serializes commits: each one reads,
    applies the request's operations and writes in one transaction. A
    periodic sweep (every *sweep_interval* seconds) deletes expired rows
    through an index on the expiry time, at a cost that grows with the
    expired rows only, and reports them to ``on_destroy``.

    Rows are keyed by the SHA-256 of the session id, never the id: a copy of
    the file (a backup, another local user) gives out no live session. A
    new file is created readable by its owner only. With *keep_ids* the id
    itself is kept in a column too, only so that expirations found by the
    sweep can be given to ``on_destroy`` callbacks (without it, sweeps
    report nothing); keep the file private then.

    It renews ids (:class:`tornsess.database.Renewable`): a renewal moves
    the row to the new id's key in one transaction, and keeps the old key
    for the grace window in ``tornsess_aliases`` (old key, new key, the
    sealed new id, the end of the window; swept with the expired sessions).
    When an id was issued is kept in the row's data (``"t"``; rows written
    before renewal existed have none, and count from their creation).
    """

    def __init__(self, path: str, *, sweep_interval: float = 60.0, keep_ids: bool = False) -> None:
        if not isinstance(path, str) or not path:
            raise ConfigError("path", "needs the path of the SQLite file")
        if not sweep_interval > 0:
            raise ConfigError("sweep_interval", "must be positive")
        self.path = path
        self.keep_ids = keep_ids
        self._worker = _Worker("tornsess-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._listener: Callable[[str], None] | None = None
        self._sweeper = Sweeper(self.sweep, sweep_interval, lambda: True)
        # Open (and create) the file now, on the database thread: a path
        # that cannot be opened or written fails here, at start-up, not as
        # a 503 on every request.
        try:
            self._worker.call(self._open_for_writing)
        except (sqlite3.Error, OSError) as exc:
            self._worker.shutdown()
            raise ConfigError(
                "path", f"cannot open {path!r} for reading and writing: {exc}"
            ) from None

    def __repr__(self) -> str:
        return f"SQLiteDatabase({self.path!r})"

    # -- the database thread ------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            if not os.path.exists(self.path):
                # A new file for its owner only (SQLite gives its -wal and
                # -shm files the same mode).
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.text_factory = _text
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=5000")
                conn.executescript(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _open_for_writing(self) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock: fails if read-only
        conn.execute("ROLLBACK")

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        self._sweeper.ensure()

        def call() -> T:
            conn = self._connection()
            try:
                return work(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise

        try:
            return await self._worker.submit(call)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {type(exc).__name__}: {exc}") from None
        except RuntimeError as exc:  # executor shut down
            raise StoreUnavailable(f"sqlite store closed: {exc}") from None

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        """Register ``listener(session_id)`` for the expired sessions that a
        load or a sweep removes (only those whose id is kept: *keep_ids*)."""
        self._listener = listener

    # -- the protocol ---------------------------------------------------------

    async def load(self, session_id: str) -> Record | None:
        """The session, or ``None`` if it does not exist or has expired (an
        expired row is deleted and reported); an unreadable row is deleted
        and logged, and counts as absent. For a renewed session's old id in
        its grace window, the renewed session with
        :attr:`~tornsess.database.Record.successor` set (a second query, made
        only when no session has the id).

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        if not is_valid_id(session_id):
            return None
        key, now = store_key(session_id), time.time()

        def work(conn: sqlite3.Connection) -> Record | str | None:
            row = conn.execute(
                "SELECT created, accessed, deadline, expires_at, data, sid "
                "FROM tornsess_sessions WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return _load_alias(conn, key, now)
            try:
                times = _times(row[:4])
                if times[3] is not None and times[3] <= now:
                    # Expired: remove it now, with its index entries, and
                    # report it (once: whoever deletes the row reports it).
                    deleted = conn.execute(
                        "DELETE FROM tornsess_sessions WHERE key = ? AND expires_at <= ?",
                        (key, now),
                    ).rowcount
                    if not deleted:
                        return None
                    conn.execute("DELETE FROM tornsess_users WHERE key = ?", (key,))
                    return row[5] if isinstance(row[5], str) else None
                return _record(times, row[4])
            except _Unreadable as exc:
                _drop_unreadable(conn, key, exc)
                return None

        found = await self._run(work)
        if isinstance(found, str):
            if self._listener is not None:
                self._listener(found)
            return None
        return found

    async def create(self, session_id: str, record: Record) -> bool:
        """Insert a new session; ``False`` (and nothing written) if a live
        session has the id, or a renewed session's old id in its grace window.

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()
        issued = record.issued if record.issued != record.created else None  # absent: created
        data = _pack(record.values, record.immutable, record.flashes, record.binding, issued)
        sid = session_id if self.keep_ids else None

        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM tornsess_sessions WHERE key = ? AND expires_at <= ?", (key, now)
            )
            # Not over a renewed session's old id in its grace window either.
            cursor = conn.execute(
                "INSERT OR IGNORE INTO tornsess_sessions "
                "(key, sid, created, accessed, deadline, expires_at, data) "
                "SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM tornsess_aliases WHERE key = ? AND until > ?)",
                (
                    key,
                    sid,
                    record.created,
                    record.accessed,
                    record.deadline,
                    record.expires_at,
                    data,
                    key,
                    now,
                ),
            )
            conn.execute("COMMIT")
            return cursor.rowcount == 1

        return await self._run(work)

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        """Apply *ops* to the session's data and set its times, in one
        transaction (read, apply, write).

        :raises tornsess.SessionInterrupted: no live session has the id
            (nothing is written), or its row was unreadable (it is deleted).
        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.ImmutableEntry: an operation touches an immutable key
            (nothing is written).
        :raises TypeError: an increment of a value that is not a number
            (nothing is written).
        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        if not is_valid_id(session_id):
            raise SessionInterrupted("not a session id")
        key, now = store_key(session_id), time.time()

        def work(conn: sqlite3.Connection) -> bool | str:
            live = _lock_live(conn, key, now)
            if not isinstance(live, tuple):
                return live or False
            values, immutable, flashes, binding, issued = live
            binding = apply_ops(values, immutable, flashes, ops, binding)
            conn.execute(
                "UPDATE tornsess_sessions SET data = ?, accessed = ?, deadline = ?, "
                "expires_at = ? WHERE key = ?",
                (
                    _pack(values, immutable, flashes, binding, issued),
                    accessed,
                    deadline,
                    expires_at,
                    key,
                ),
            )
            conn.execute("COMMIT")
            return True

        done = await self._run(work)
        if done is not True:
            if done:
                raise SessionMoved(done)
            raise SessionInterrupted("the session was destroyed or expired")

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        """Set the access and expiry times; ``False`` if the session is gone.

        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()

        def work(conn: sqlite3.Connection) -> bool | str:
            cursor = conn.execute(
                "UPDATE tornsess_sessions SET accessed = ?, expires_at = ? "
                "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (accessed, expires_at, key, now),
            )
            return cursor.rowcount == 1 or _moved(conn, key, now) or False

        touched = await self._run(work)
        if isinstance(touched, str):
            raise SessionMoved(touched)
        return touched

    async def rename(self, old_id: str, new_id: str, issued: float | None = None) -> bool:
        """Move the session (and its user-index entries) to *new_id* in one
        transaction, its id issued at *issued* (``None``: now); the old id
        is dead at once. ``False`` if *new_id* is taken (by a session, or by
        a renewed session's old id in its grace window).

        :raises tornsess.SessionInterrupted: no live session has *old_id*.
        :raises tornsess.errors.SessionMoved: *old_id* is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        issued = time.time() if issued is None else issued
        moved = await self._move(old_id, new_id, issued, None)
        if isinstance(moved, str):
            raise SessionMoved(moved)
        return moved

    async def renew(
        self, old_id: str, new_id: str, sealed: str, issued: float, grace_until: float
    ) -> bool | str:
        """Move the session to *new_id* as :meth:`rename` does, and keep
        *old_id*'s key until *grace_until* as an alias holding *sealed*, in
        one transaction (none if *grace_until* is past). ``True`` when
        renewed; ``False`` (nothing written) if *new_id* is taken; the
        alias's sealed text (nothing written) if *old_id* was renewed
        already.

        :raises tornsess.SessionInterrupted: no live session has *old_id*.
        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        return await self._move(old_id, new_id, issued, (sealed, grace_until))

    async def _move(
        self, old_id: str, new_id: str, issued: float, alias: tuple[str, float] | None
    ) -> bool | str:
        """Move the session under *old_id* to *new_id*, set when its id was
        issued, re-point its index entries, and file *alias* (sealed text,
        end of the window) under the old key, in one transaction. ``True``
        when moved, ``False`` if *new_id* is taken, the sealed text if
        *old_id* is an alias (nothing written either way).

        :raises tornsess.SessionInterrupted: no live session has *old_id*
            (or its row was unreadable: it is deleted).
        """
        if not is_valid_id(old_id) or not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old, new, now = store_key(old_id), store_key(new_id), time.time()
        sid = new_id if self.keep_ids else None

        def work(conn: sqlite3.Connection) -> bool | str | None:
            live = _lock_live(conn, old, now)
            if not isinstance(live, tuple):
                return live
            if _taken(conn, new, now):
                conn.execute("ROLLBACK")
                return False
            values, immutable, flashes, binding, _ = live
            # An expired session under the new key goes, with its entries.
            conn.execute("DELETE FROM tornsess_sessions WHERE key = ?", (new,))
            conn.execute("DELETE FROM tornsess_users WHERE key = ?", (new,))
            conn.execute(
                "UPDATE tornsess_sessions SET key = ?, sid = ?, data = ? WHERE key = ?",
                (new, sid, _pack(values, immutable, flashes, binding, issued), old),
            )
            conn.execute("UPDATE tornsess_users SET key = ? WHERE key = ?", (new, old))
            if alias is not None and alias[1] > now:
                conn.execute(
                    "INSERT OR REPLACE INTO tornsess_aliases (key, target, sealed, until) "
                    "VALUES (?, ?, ?, ?)",
                    (old, new, *alias),
                )
            conn.execute("COMMIT")
            return True

        moved = await self._run(work)
        if moved is None:
            raise SessionInterrupted("the session was destroyed or expired")
        return moved

    async def exists(self, session_id: str) -> bool:
        """Whether a live session has this id, or a renewed session's old id
        in its grace window.

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()

        def work(conn: sqlite3.Connection) -> bool:
            return _taken(conn, key, now)

        return await self._run(work)

    async def destroy(self, session_id: str) -> bool:
        """Delete the session and its user-index entries; ``True`` if it
        was live.

        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()

        def work(conn: sqlite3.Connection) -> bool | str:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "DELETE FROM tornsess_sessions WHERE key = ? AND "
                "(expires_at IS NULL OR expires_at > ?)",
                (key, now),
            )
            if cursor.rowcount != 1:
                moved = _moved(conn, key, now)
                if moved is not None:
                    conn.execute("ROLLBACK")
                    return moved
            conn.execute("DELETE FROM tornsess_users WHERE key = ?", (key,))
            conn.execute("COMMIT")
            return cursor.rowcount == 1

        destroyed = await self._run(work)
        if isinstance(destroyed, str):
            raise SessionMoved(destroyed)
        return destroyed

    async def destroy_all(self) -> list[str]:
        """Delete every session, index entry and renewed session's old id;
        return the ids of the live ones that were kept (none with
        ``keep_ids=False``).

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """

        def work(conn: sqlite3.Connection) -> list[str]:
            conn.execute("BEGIN IMMEDIATE")
            now = time.time()
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT sid FROM tornsess_sessions WHERE sid IS NOT NULL AND "
                    "(expires_at IS NULL OR expires_at > ?)",
                    (now,),
                )
            ]
            conn.execute("DELETE FROM tornsess_sessions")
            conn.execute("DELETE FROM tornsess_users")
            conn.execute("DELETE FROM tornsess_aliases")
            conn.execute("COMMIT")
            return [sid for sid in ids if isinstance(sid, str)]

        return await self._run(work)

    async def sweep(self) -> int:
        """Delete expired rows (and renewed sessions' old ids past their
        grace window) now and report them; return how many sessions."""

        def work(conn: sqlite3.Connection) -> tuple[int, list[str]]:
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT sid FROM tornsess_sessions "
                    "WHERE expires_at IS NOT NULL AND expires_at <= ?",
                    (now,),
                )
            ]
            conn.execute(
                "DELETE FROM tornsess_users WHERE key IN (SELECT key FROM tornsess_sessions "
                "WHERE expires_at IS NOT NULL AND expires_at <= ?)",
                (now,),
            )
            cursor = conn.execute(
                "DELETE FROM tornsess_sessions WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            )
            conn.execute("DELETE FROM tornsess_aliases WHERE until <= ?", (now,))
            conn.execute("COMMIT")
            return cursor.rowcount, [sid for sid in ids if isinstance(sid, str) and sid]

        count, ids = await self._run(work)
        if self._listener is not None:
            for sid in ids:
                self._listener(sid)
        return count

    # -- the user index -----------------------------------------------------------

    async def index_add(
        self, tag: str, handle: str, session_id: str, expires_at: float | None
    ) -> None:
        """File *handle* -> *session_id* under *tag*, replacing an entry of the
        same handle (entries go with their session, so *expires_at* is unused).

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        key = store_key(session_id)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO tornsess_users (handle, tag, key) VALUES (?, ?, ?)",
                (handle, tag, key),
            )

        await self._run(work)

    async def index_remove(self, tag: str, handle: str) -> None:
        """Delete the index entry of *handle* under *tag*.

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM tornsess_users WHERE handle = ? AND tag = ?", (handle, tag))

        await self._run(work)

    async def index_sessions(self, tag: str) -> list[tuple[str, Record]]:
        """``(handle, record)`` of every live session under *tag*, in one
        query; entries whose session is gone, expired or unreadable are
        deleted.

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        now = time.time()

        def work(conn: sqlite3.Connection) -> list[tuple[str, Record]]:
            rows = conn.execute(
                "SELECT u.handle, s.created, s.accessed, s.deadline, s.expires_at, s.data "
                "FROM tornsess_users u LEFT JOIN tornsess_sessions s ON s.key = u.key "
                "WHERE u.tag = ?",
                (tag,),
            ).fetchall()
            found: list[tuple[str, Record]] = []
            dead: list[tuple[str]] = []
            for handle, *row_times, data in rows:
                try:
                    if row_times[0] is None:
                        raise _Unreadable("gone")
                    times = _times(row_times)
                    if times[3] is not None and times[3] <= now:
                        raise _Unreadable("expired")
                    found.append((handle, _record(times, data)))
                except _Unreadable:
                    dead.append((handle,))
            if dead:
                conn.executemany("DELETE FROM tornsess_users WHERE handle = ?", dead)
            return found

        return await self._run(work)

    async def index_destroy(self, tag: str, handle: str) -> tuple[bool, str | None]:
        """Delete the session of *handle* and its index entries in one
        transaction; return whether it was live, and its id if kept.

        :raises tornsess.StoreUnavailable: SQLite failed, or the store is closed.
        """
        now = time.time()

        def work(conn: sqlite3.Connection) -> tuple[bool, str | None]:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT key FROM tornsess_users WHERE handle = ? AND tag = ?", (handle, tag)
            ).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return False, None
            key = row[0]
            found = conn.execute(
                "SELECT sid FROM tornsess_sessions WHERE key = ? AND "
                "(expires_at IS NULL OR expires_at > ?)",
                (key, now),
            ).fetchone()
            conn.execute("DELETE FROM tornsess_sessions WHERE key = ?", (key,))
            conn.execute("DELETE FROM tornsess_users WHERE key = ?", (key,))
            conn.execute("COMMIT")
            if found is None:
                return False, None
            return True, found[0] if isinstance(found[0], str) else None

        return await self._run(work)

    async def close(self) -> None:
        """Stop the sweep, close the file and the database thread."""
        await self._sweeper.stop()

        def work(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self._run(work)
        self._worker.shutdown()
