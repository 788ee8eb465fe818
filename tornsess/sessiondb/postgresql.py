"""PostgreSQLDatabase: sessions in a PostgreSQL database, shared by every
process and host that uses it, on psycopg 3 (and psycopg-pool for a pool the
application passes), through their public API only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg.pq import TransactionStatus
    from psycopg.rows import tuple_row
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
except ImportError as _missing:  # pragma: no cover - depends on the install
    raise ImportError(
        "PostgreSQLDatabase needs psycopg 3 and psycopg-pool: install tornsess with "
        "its postgresql extra (in a clone: pip install -e '.[postgresql]')"
    ) from _missing

from ..database import Op, Record, Sweeper, apply_ops
from ..errors import (
    ConfigError,
    ImmutableEntry,
    SessionInterrupted,
    SessionMoved,
    StoreUnavailable,
)
from ..ids import is_valid_id, store_key

__all__ = ["PostgreSQLDatabase", "SCHEMA_VERSION"]

T = TypeVar("T")

log: logging.Logger = logging.getLogger("tornsess")

SCHEMA_VERSION = 2
"""The version of the tables this release creates and reads (2: when each
session's id was issued, and renewed sessions' old ids; 1 is upgraded)."""

_SEEN = 1024
"""How many sessions' rows a store keeps as it last read or wrote them, for
the commit of one round trip."""

_REVOKE_TRIES = 4
"""How often a revoke follows an index entry that a renewal or a regenerate
moved while the revoke waited for the session's row."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_SWEEP_BATCH = 1000

Connection = psycopg.AsyncConnection[Any]


def _identifier(table: object) -> tuple[str, ...]:
    """The parts (``schema.table`` or ``table``) of a valid table name.

    :raises tornsess.ConfigError: anything else.
    """
    if not isinstance(table, str):
        raise ConfigError("table", f"must be a str, got {type(table).__name__}")
    parts = tuple(table.split("."))
    if len(parts) > 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise ConfigError(
            "table",
            "must be NAME or SCHEMA.NAME, each of letters, digits and underscores "
            f"(40 at most, not starting with a digit), got {table!r}",
        )
    return parts


class _Schema:
    """The quoted names of a store's tables and indexes (identifiers, never
    text formatted into SQL), and its statements."""

    def __init__(self, parts: tuple[str, ...]) -> None:
        *schema, name = parts

        def table(suffix: str) -> sql.Identifier:
            return sql.Identifier(*schema, name + suffix)

        def index(suffix: str) -> sql.Identifier:
            return sql.Identifier(name + suffix)  # an index lives in its table's schema

        self.sessions = table("")
        self.users = table("_users")
        self.aliases = table("_aliases")
        self.version = table("_version")
        # Concurrent creators of the same tables take turns on this lock.
        digest = hashlib.sha256(("tornsess schema " + ".".join(parts)).encode()).digest()
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)
        names: dict[str, sql.Composable] = {
            "live": sql.SQL("(expires_at IS NULL OR expires_at > %s)"),
            "sessions": self.sessions,
            "users": self.users,
            "aliases": self.aliases,
            "version": self.version,
            "expiry": index("_expiry"),
            "users_key": index("_users_key"),
            "aliases_expiry": index("_aliases_expiry"),
        }

        def q(text: str) -> sql.Composed:
            return sql.SQL(text).format(**names)

        self.create_version = q("CREATE TABLE IF NOT EXISTS {version} (version integer NOT NULL)")
        self.read_version = q("SELECT max(version) FROM {version}")
        # A renewed session's old key, for its grace window: the key it
        # names (no foreign key: a rename of the session must not carry its
        # old ids along), and the sealed new id.
        create_aliases = [
            q(
                "CREATE TABLE IF NOT EXISTS {aliases} ("
                " key text PRIMARY KEY,"
                " target text NOT NULL,"
                " sealed text NOT NULL,"
                " expires_at double precision NOT NULL)"
            ),
            q("CREATE INDEX IF NOT EXISTS {aliases_expiry} ON {aliases} (expires_at)"),
        ]
        self.create = [
            q(
                "CREATE TABLE IF NOT EXISTS {sessions} ("
                " key text PRIMARY KEY,"
                " created double precision NOT NULL,"
                " accessed double precision NOT NULL,"
                " deadline double precision,"
                " expires_at double precision,"
                " data text NOT NULL,"
                " binding text,"
                " issued double precision)"
            ),
            q(
                "CREATE INDEX IF NOT EXISTS {expiry} ON {sessions} (expires_at)"
                " WHERE expires_at IS NOT NULL"
            ),
            q(
                "CREATE TABLE IF NOT EXISTS {users} ("
                " tag text NOT NULL,"
                " handle text NOT NULL,"
                " key text NOT NULL REFERENCES {sessions} (key)"
                " ON DELETE CASCADE ON UPDATE CASCADE,"
                " PRIMARY KEY (tag, handle))"
            ),
            q("CREATE INDEX IF NOT EXISTS {users_key} ON {users} (key)"),
            *create_aliases,
            q("INSERT INTO {version} (version) VALUES (%s)"),
        ]
        # From each older version to this one (run under the advisory lock,
        # the version read again first); the last statement sets the version.
        self.upgrade: dict[int, list[sql.Composed]] = {
            1: [
                q("ALTER TABLE {sessions} ADD COLUMN issued double precision"),
                *create_aliases,
                q("UPDATE {version} SET version = %s"),
            ],
        }
        # Expired rows too: the load that finds one deletes and reports it.
        # Through an alias, the live session it names, with the sealed text.
        self.load = q(
            "SELECT created, accessed, deadline, expires_at, data, binding, issued, NULL"
            " FROM {sessions} WHERE key = %s"
        )
        # Only when no session row matched: a renewed session's old key.
        self.load_alias = q(
            "SELECT s.created, s.accessed, s.deadline, s.expires_at, s.data, s.binding,"
            " s.issued, a.sealed FROM {aliases} a JOIN {sessions} s ON s.key = a.target"
            " WHERE a.key = %s AND a.expires_at > %s"
            " AND (s.expires_at IS NULL OR s.expires_at > %s)"
        )
        self.moved = q("SELECT sealed FROM {aliases} WHERE key = %s AND expires_at > %s")
        self.taken = q(
            "SELECT 1 FROM {sessions} WHERE key = %s AND {live}"
            " UNION ALL SELECT 1 FROM {aliases} WHERE key = %s AND expires_at > %s"
        )
        self.delete_expired = q(
            "DELETE FROM {sessions} WHERE key = %s AND expires_at IS NOT NULL AND expires_at <= %s"
        )
        # Not over a renewed session's old key in its grace window either.
        self.insert = q(
            "INSERT INTO {sessions} AS s"
            " (key, created, accessed, deadline, expires_at, data, binding, issued)"
            " SELECT %s, %s::float8, %s::float8, %s::float8, %s::float8, %s::text,"
            " %s::text, %s::float8"
            " WHERE NOT EXISTS (SELECT 1 FROM {aliases} WHERE key = %s AND expires_at > %s)"
            " ON CONFLICT (key) DO UPDATE SET created = excluded.created,"
            " accessed = excluded.accessed, deadline = excluded.deadline,"
            " expires_at = excluded.expires_at, data = excluded.data,"
            " binding = excluded.binding, issued = excluded.issued"
            " WHERE s.expires_at IS NOT NULL AND s.expires_at <= %s"
        )
        self.lock_row = q(
            "SELECT data, binding FROM {sessions} WHERE key = %s AND {live} FOR UPDATE"
        )
        self.update = q(
            "UPDATE {sessions} SET data = %s, binding = %s, accessed = %s, deadline = %s,"
            " expires_at = %s WHERE key = %s"
        )
        # The commit of one round trip: the row is written only if it still
        # holds what this process last read or wrote (data and binding).
        self.update_unchanged = q(
            "UPDATE {sessions} SET data = %s, binding = %s, accessed = %s, deadline = %s,"
            " expires_at = %s WHERE key = %s AND {live} AND data = %s"
            " AND binding IS NOT DISTINCT FROM %s"
        )
        self.update_times = q(
            "UPDATE {sessions} SET accessed = %s, deadline = %s, expires_at = %s"
            " WHERE key = %s AND {live}"
        )
        self.touch = q(
            "UPDATE {sessions} SET accessed = %s, expires_at = %s WHERE key = %s AND {live}"
        )
        self.rename = q(
            "UPDATE {sessions} SET key = %s, issued = %s WHERE key = %s AND {live}"
            " AND NOT EXISTS (SELECT 1 FROM {aliases} WHERE key = %s AND expires_at > %s)"
        )
        self.exists = q("SELECT 1 FROM {sessions} WHERE key = %s AND {live}")
        # A renewal: the old row locked, the new key checked, then the move
        # (the user index follows: ON UPDATE CASCADE) and the alias.
        self.lock_old = q("SELECT 1 FROM {sessions} WHERE key = %s AND {live} FOR UPDATE")
        self.renew = q("UPDATE {sessions} SET key = %s, issued = %s WHERE key = %s")
        self.add_alias = q(
            "INSERT INTO {aliases} (key, target, sealed, expires_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET"
            " target = excluded.target, sealed = excluded.sealed, expires_at = excluded.expires_at"
        )
        self.delete = q("DELETE FROM {sessions} WHERE key = %s")
        self.destroy = q(
            "DELETE FROM {sessions} WHERE key = %s RETURNING expires_at IS NULL OR expires_at > %s"
        )
        self.count = q("SELECT count(*) FROM {sessions} WHERE {live}")
        self.delete_users = q("DELETE FROM {users}")
        self.delete_sessions = q("DELETE FROM {sessions}")
        self.delete_aliases = q("DELETE FROM {aliases}")
        self.sweep = q(
            "DELETE FROM {sessions} WHERE key IN (SELECT key FROM {sessions}"
            " WHERE expires_at IS NOT NULL AND expires_at <= %s"
            " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)"
        )
        self.sweep_aliases = q(
            "DELETE FROM {aliases} WHERE key IN (SELECT key FROM {aliases}"
            " WHERE expires_at <= %s ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)"
        )
        self.index_add = q(
            "INSERT INTO {users} (tag, handle, key) VALUES (%s, %s, %s)"
            " ON CONFLICT (tag, handle) DO UPDATE SET key = excluded.key"
        )
        self.index_remove = q("DELETE FROM {users} WHERE tag = %s AND handle = %s")
        self.index_sessions = q(
            "SELECT u.handle, u.key, s.created, s.accessed, s.deadline, s.expires_at,"
            " s.data, s.binding, s.issued, NULL FROM {users} u JOIN {sessions} s ON s.key = u.key"
            " WHERE u.tag = %s AND (s.expires_at IS NULL OR s.expires_at > %s)"
        )
        self.prune = q("DELETE FROM {sessions} WHERE key = ANY(%s)")
        # The session the entry points at, if it still does once locked; its
        # entries go with it (ON DELETE CASCADE).
        self.index_destroy = q(
            "DELETE FROM {sessions} WHERE key = (SELECT key FROM {users}"
            " WHERE tag = %s AND handle = %s)"
            " RETURNING expires_at IS NULL OR expires_at > %s"
        )
        self.index_entry = q("SELECT key FROM {users} WHERE tag = %s AND handle = %s")
        self.delete_returning = q(
            "DELETE FROM {sessions} WHERE key = %s RETURNING expires_at IS NULL OR expires_at > %s"
        )


def _pack(values: Any, immutable: Any, flashes: Any) -> str:
    """A row's data: its values, immutable keys and flashes as compact JSON
    (each value and flash is :mod:`tornsess.codec` text already). JSON
    escapes what a PostgreSQL text cannot hold (NUL) in keys and values."""
    data = {"v": dict(values), "i": sorted(immutable), "f": dict(flashes)}
    return json.dumps(data, separators=(",", ":"))


class _Unreadable(Exception):
    """A row this store cannot read (not JSON of its shape)."""


def _applied(data: object, binding: str | None, ops: Sequence[Op]) -> tuple[str, str | None]:
    """A row's data and binding after *ops* (:func:`apply_ops`).

    :raises _Unreadable: *data* is no row of this store's.
    :raises tornsess.ImmutableEntry: an operation changes an immutable key.
    :raises TypeError: an increment of a value that is not a number.
    """
    values, immutable, flashes = _unpack(data)
    binding = apply_ops(values, immutable, flashes, ops, binding or None)
    return _pack(values, immutable, flashes), binding


def _entries(loaded: object, field: str) -> dict[str, str]:
    if not isinstance(loaded, dict):
        raise _Unreadable(f"the {field}s are not an object")
    entries = {}
    for name, value in loaded.items():
        if isinstance(value, str):
            entries[name] = value
        else:
            log.warning(
                "tornsess: ignoring corrupt stored %s entry %r in a PostgreSQL row", field, name
            )
    return entries


def _unpack(data: object) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """A row's values, immutable keys and flashes; JSON is the only format
    ever parsed. :raises _Unreadable: anything else."""
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
    return (
        _entries(loaded.get("v"), "value"),
        {name for name in immutable if isinstance(name, str)},
        _entries(loaded.get("f", {}), "flash"),
    )


def _record(row: Sequence[Any]) -> Record:
    """The Record of ``created, accessed, deadline, expires_at, data,
    binding, issued, successor`` (``issued`` NULL: the creation).

    :raises _Unreadable: a row this store did not write.
    """
    created, accessed, deadline, expires_at, data, binding, issued, successor = row
    for value in (created, accessed, deadline, expires_at, issued):
        if value is not None and not math.isfinite(value):
            raise _Unreadable("a time is not a finite number")
    if created is None or accessed is None:
        raise _Unreadable("a time is missing")
    values, immutable, flashes = _unpack(data)
    return Record(
        values,
        frozenset(immutable),
        flashes,
        created,
        accessed,
        deadline,
        expires_at,
        binding if isinstance(binding, str) and binding else None,
        issued,
        successor,
    )


async def _moved(conn: Connection, schema: _Schema, key: str, now: float) -> str | None:
    """The sealed successor if *key* is a renewed session's old key in its
    grace window (one ``SELECT``), else ``None``."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(schema.moved, (key, now))
    row = await cur.fetchone()
    return row[0] if row is not None and isinstance(row[0], str) else None


def _abort(conn: Connection) -> None:
    """Close *conn* at once, whatever it is waiting for: a call past its
    timeout ends with an error now, and the pool discards the connection.
    (Cancelling the waiting coroutine instead makes psycopg send the server
    a cancel request and wait for it, up to 10 s more on a stalled server.)"""
    conn.pgconn.finish()


def _redact(text: str) -> str:
    """*text* without the password a DSN or an error message may carry."""
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text)


class _Pool:
    """The connections a store built from a DSN holds on one event loop in
    one process: at most *size* open, the idle ones kept for reuse, a new
    one opened when none is idle. It has no task or timer of its own, so a
    loop shut down by ``asyncio.run`` can close it at the very end
    (psycopg-pool's tasks are cancelled before that, and its ``close()``
    then fails, leaving its connections open)."""

    __slots__ = ("conninfo", "idle", "slots", "closed")

    def __init__(self, conninfo: str, size: int) -> None:
        self.conninfo = conninfo
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(size)
        self.closed = False

    async def acquire(self, deadline: float) -> Connection:
        """A connection: an idle one at once, else a new one; waiting for a
        free slot and connecting end at *deadline* (the loop's time).

        :raises TimeoutError: no connection by then.
        :raises psycopg.Error: the connection failed.
        """
        loop = asyncio.get_running_loop()
        if self.slots.locked():
            await _bounded(self.slots.acquire(), deadline - loop.time())
        else:
            await self.slots.acquire()  # free: returns at once
        try:
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed:
                    return conn
            return await _bounded(
                psycopg.AsyncConnection.connect(self.conninfo, autocommit=True),
                deadline - loop.time(),
            )
        except BaseException:
            self.slots.release()
            raise

    def release(self, conn: Connection, broken: bool) -> None:
        """Take *conn* back: kept if it is idle and usable. A *broken* one
        (the server went away) is closed with every idle one, which are
        likely gone too (a restart): the next call connects afresh."""
        self.slots.release()
        usable = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        if usable and not broken and not self.closed:
            self.idle.append(conn)
            return
        conn.pgconn.finish()
        if broken:
            self.drop()

    def disown(self) -> None:
        """In a forked child, let go of the idle connections of the parent
        without touching the server: each socket is replaced by /dev/null
        first, so closing the connection (libpq then sends its Terminate
        message) ends nothing of the parent's session."""
        idle, self.idle = self.idle, []
        self.closed = True
        with open(os.devnull, "wb") as sink:
            for conn in idle:
                if not conn.closed:
                    os.dup2(sink.fileno(), conn.pgconn.socket)
                    conn.pgconn.finish()

    def drop(self) -> None:
        """Close the idle connections (sending PostgreSQL's Terminate)."""
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.pgconn.finish()


class _Binding:
    """The pool of a store on one event loop in one process. Its *keeper* is
    an async generator on that loop: ``asyncio.run`` (any
    ``loop.shutdown_asyncgens()``) closes it before closing the loop, and
    its ``finally`` closes the pool's connections."""

    __slots__ = ("loop", "pid", "pool", "keeper")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pool: _Pool,
        registry: dict[asyncio.AbstractEventLoop, _Binding],
    ) -> None:
        self.loop = loop
        self.pid = os.getpid()
        self.pool = pool
        self.keeper = self._keep(registry)
        with contextlib.suppress(StopIteration):
            # Runs to its yield at once; the loop's async generator hooks
            # register it with *loop*.
            self.keeper.asend(None).send(None)

    async def _keep(
        self, registry: dict[asyncio.AbstractEventLoop, _Binding]
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if registry.get(self.loop) is self:
                del registry[self.loop]
            if self.pid == os.getpid():
                self.pool.closed = True
                self.pool.drop()

    def close(self) -> None:
        """Close the pool's idle connections now, and the others when they
        come back."""
        with contextlib.suppress(StopIteration, RuntimeError):
            self.keeper.aclose().send(None)


if sys.version_info >= (3, 11):

    async def _bounded(call: Awaitable[T], seconds: float) -> T:
        """*call*, cancelled after *seconds* (``asyncio.timeout``: no Task of
        its own, unlike ``wait_for`` before Python 3.12)."""
        async with asyncio.timeout(seconds):
            return await call

else:  # pragma: no cover - Python 3.10
    _bounded = asyncio.wait_for


class PostgreSQLDatabase:
    """Sessions in a PostgreSQL database (9.5 or newer; tested on 15), for
    several processes and hosts that share one database.

    Give either *dsn*, a libpq connection string or URI
    (``postgresql://user:password@host:5432/dbname?sslmode=require``, or
    ``"host=... dbname=..."``), or a ready *pool*, a
    :class:`psycopg_pool.AsyncConnectionPool` that you open and close. With a
    DSN the store keeps its own connections per event loop and process (up
    to 10, opened as needed, the idle ones reused; ``connect_timeout`` from
    *timeout* unless the DSN sets one).
    The store writes its own ``BEGIN`` and ``COMMIT``: a connection of a
    pool you pass that is not in autocommit mode is switched to it for the
    call and back.

    **Tables.** *table* (``NAME`` or ``SCHEMA.NAME``: letters, digits and
    underscores; quoted as an identifier, so case matters) holds one row
    per session, keyed by :func:`tornsess.ids.store_key` (a SHA-256 of the
    id; the id itself is never stored): its times, its values, immutable
    keys and flashes as JSON text (JSON escapes the NUL that a PostgreSQL
    text cannot hold), the login binding in a column of its own, and when
    its id was issued (``issued``; NULL: at its creation).
    ``<table>_users`` is the user index (tag, handle -> key; its rows go
    with their session's), ``<table>_aliases`` holds renewed sessions' old
    keys for their grace window (the new key and the sealed new id; swept
    with the expired sessions), and ``<table>_version`` holds the schema
    version. The store creates them on first use (or in :meth:`setup`), or
    upgrades tables of an older version (:data:`SCHEMA_VERSION`; that needs
    the right to alter them), under a transaction-level advisory lock, so
    processes that start at once take turns. It refuses a newer schema
    version than it knows with :class:`tornsess.ConfigError`.

    **Round trips.** A load is one ``SELECT``; a commit is one transaction
    in two round trips (``BEGIN`` and ``SELECT ... FOR UPDATE`` pipelined,
    the operations applied in Python by :func:`tornsess.database.apply_ops`,
    then ``UPDATE`` and ``COMMIT`` pipelined): concurrent commits of one
    session take turns on its row, so changes to different keys both
    survive and increments add up, and a session deleted meanwhile is not
    brought back. A commit without operations, an idle refresh, a create,
    a rename and a destroy are one statement each. A load that finds no
    session row reads the aliases in a second ``SELECT`` (a renewed
    session's old id in its grace window), so that the load of a session
    costs exactly one; a commit, refresh, rename or destroy of an old id finds that it
    names no session, then reads the alias (one more ``SELECT``, only then),
    and raises :class:`tornsess.errors.SessionMoved`. A renewal is one
    transaction in two round trips, which locks the old row first. Every
    value is bound as a parameter; table names are quoted identifiers.

    **Expiry.** Expired rows are never loaded: a load that finds one deletes
    it and reports it to ``on_destroy`` (with the id the request gave). A
    periodic sweep (every *sweep_interval* seconds, in batches through an
    index on the expiry time, ``SKIP LOCKED`` so processes do not wait for
    each other) deletes the others with their index entries; ``on_destroy``
    callbacks do not run for those, nor for ``destroy_all``: the store
    keeps no ids.

    **Failures.** Every call is bounded by *timeout* seconds, waiting for a
    pooled connection included; past it the connection is closed under the
    call (not cancelled: psycopg would wait for the server to confirm the
    cancel, up to 10 s more on a stalled server), and the call, like any
    driver error, raises :class:`tornsess.StoreUnavailable` (a 503 for the
    request). A connection found broken closes the idle ones with it, so
    the first call after a server restart connects afresh. A row the store
    cannot read (not JSON of its shape, a time that is not a finite number)
    is a missing session: it is deleted and logged.

    **Event loops and processes.** psycopg's connections belong to the
    loop that opened them, and a forked child must not use its parent's. A
    store built from a DSN opens a pool for each loop and process it runs
    on, lazily; a loop's pool is closed when the loop shuts down the way
    ``asyncio.run`` does it (``loop.shutdown_asyncgens()``), or by
    :meth:`close` on that loop, and the pool of a loop closed otherwise on
    the next call. In a forked child, the parent's idle connections are let
    go without a word to the server (their sockets are first replaced by
    /dev/null), so the parent's sessions on them go on. A pool you pass is
    yours: use the store on the loop it was opened on.

    :raises tornsess.ConfigError: neither or both of *dsn* and *pool*, a DSN
        libpq cannot parse, an invalid table name, or a timeout or sweep
        interval that is not positive.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: AsyncConnectionPool[Any] | None = None,
        table: str = "tornsess_sessions",
        timeout: float = 2.0,
        sweep_interval: float = 60.0,
    ) -> None:
        if (dsn is None) == (pool is None):
            raise ConfigError("dsn", "give either dsn or pool")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ConfigError("timeout", f"must be positive, got {timeout!r}")
        if not (isinstance(sweep_interval, (int, float)) and sweep_interval > 0):
            raise ConfigError("sweep_interval", f"must be positive, got {sweep_interval!r}")
        self.table: str = table
        """The sessions table's name, as given."""
        self.timeout: float = float(timeout)
        """The bound of every call, in seconds."""
        self._schema = _Schema(_identifier(table))
        self._conninfo: str | None = None
        if dsn is not None:
            if not isinstance(dsn, str):
                raise ConfigError("dsn", f"must be a str, got {type(dsn).__name__}")
            try:
                options = conninfo_to_dict(dsn)
            except psycopg.Error as exc:
                raise ConfigError("dsn", _redact(f"{_redact(dsn)}: {exc}")) from None
            extra: dict[str, Any] = {}
            if "connect_timeout" not in options:
                # libpq's whole seconds, 2 at least.
                extra["connect_timeout"] = max(2, math.ceil(timeout))
            self._conninfo = make_conninfo(dsn, **extra)
        self._pool = pool
        self._bindings: dict[asyncio.AbstractEventLoop, _Binding] = {}
        self._inherited: list[_Binding] = []  # a parent's, in a forked child
        self._ready = False  # the tables are known to be there, of our version
        self._listener: Callable[[str], None] | None = None
        # Store key -> (data, binding) as this process last read or wrote
        # them, for the commit of one round trip; at most _SEEN sessions.
        self._seen: dict[str, tuple[str, str | None]] = {}
        self._seen_lock = threading.Lock()
        self._sweeper = Sweeper(self.sweep, sweep_interval, lambda: True)

    def __repr__(self) -> str:
        return f"PostgreSQLDatabase(table={self.table!r})"

    # -- one call ---------------------------------------------------------------

    def _pool_here(self) -> _Pool:
        """The store's pool for the running loop in this process (made now
        if needed). Pools of closed loops are closed; the parent's, in a
        forked child, are let go without a word to the server (their
        sessions are the parent's)."""
        loop = asyncio.get_running_loop()
        binding = self._bindings.get(loop)
        pid = os.getpid()
        if binding is not None and binding.pid == pid:
            return binding.pool
        for other in list(self._bindings.values()):
            if other.pid != pid:
                other.pool.disown()
                self._inherited.append(other)
                del self._bindings[other.loop]
            elif other.loop.is_closed():
                other.close()
        assert self._conninfo is not None
        binding = _Binding(loop, _Pool(self._conninfo, 10), self._bindings)
        self._bindings[loop] = binding
        return binding.pool

    async def _call(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """``work(connection)`` on a connection in autocommit mode, within
        the timeout (waiting for the connection included; past it the
        connection is closed under the call); a transaction it leaves open
        is rolled back.

        :raises tornsess.StoreUnavailable: the call failed or timed out,
            whatever psycopg raised.
        :raises tornsess.ConfigError: the tables are of a newer version.
        """
        self._sweeper.ensure()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            if self._pool is not None:
                async with self._pool.connection(timeout=self.timeout) as conn:
                    return await self._run(conn, work, loop, deadline)
            pool = self._pool_here()
            try:
                conn = await pool.acquire(deadline)
            except (TimeoutError, asyncio.TimeoutError):
                raise StoreUnavailable(
                    f"postgresql: no connection within {self.timeout:g} s"
                ) from None
            broken = False
            try:
                return await self._run(conn, work, loop, deadline)
            except psycopg.Error:
                broken = conn.closed
                raise
            finally:
                pool.release(conn, broken)
        except PoolTimeout:
            raise StoreUnavailable(f"postgresql: no connection within {self.timeout:g} s") from None
        except psycopg.errors.UndefinedTable as exc:
            self._ready = False  # dropped under us: made again on the next call
            raise StoreUnavailable(_redact(f"postgresql: {type(exc).__name__}: {exc}")) from None
        except psycopg.Error as exc:
            raise StoreUnavailable(_redact(f"postgresql: {type(exc).__name__}: {exc}")) from None

    async def _run(
        self,
        conn: Connection,
        work: Callable[[Connection], Awaitable[T]],
        loop: asyncio.AbstractEventLoop,
        deadline: float,
    ) -> T:
        timer = loop.call_at(deadline, _abort, conn)
        restore = not conn.autocommit  # a connection of a pool you passed
        try:
            if restore:
                await conn.set_autocommit(True)
            if not self._ready:
                await self._prepare(conn)
            return await work(conn)
        finally:
            timer.cancel()
            if not conn.closed:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    await conn.rollback()
                if restore:
                    await conn.set_autocommit(False)

    # -- the schema ---------------------------------------------------------------

    async def _prepare(self, conn: Connection) -> None:
        """Check the tables' version; create them if they are missing, or
        upgrade them from an older version, in one transaction under an
        advisory lock (another process doing the same waits for it, then
        finds them done). Tables of this version need no right to create
        or alter any.

        :raises tornsess.ConfigError: the tables are of a newer version.
        """
        schema = self._schema
        cur = conn.cursor(row_factory=tuple_row)
        try:
            await cur.execute(schema.read_version)
            row = await cur.fetchone()
            version = row[0] if row is not None else None
        except psycopg.errors.UndefinedTable:
            version = None
        if version is None or version < SCHEMA_VERSION:
            await cur.execute("BEGIN")
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (schema.lock_key,))
            await cur.execute(schema.create_version)
            await cur.execute(schema.read_version)  # again, now that it is our turn
            row = await cur.fetchone()
            version = row[0] if row is not None else None
            if version is None:
                for statement in schema.create[:-1]:
                    await cur.execute(statement)
                await cur.execute(schema.create[-1], (SCHEMA_VERSION,))
                version = SCHEMA_VERSION
            elif version in schema.upgrade:
                statements = schema.upgrade[version]
                for statement in statements[:-1]:
                    await cur.execute(statement)
                await cur.execute(statements[-1], (SCHEMA_VERSION,))
                log.info(
                    "tornsess: upgraded the PostgreSQL tables of %r from schema version %d to %d",
                    self.table,
                    version,
                    SCHEMA_VERSION,
                )
                version = SCHEMA_VERSION
            await cur.execute("COMMIT")
        if version > SCHEMA_VERSION:
            raise ConfigError(
                "table",
                f"{self.table!r} has schema version {version}, newer than this "
                f"release of tornsess knows ({SCHEMA_VERSION}): upgrade tornsess",
            )
        if version != SCHEMA_VERSION:
            raise ConfigError(
                "table", f"{self.table!r} has schema version {version}, which cannot be upgraded"
            )
        self._ready = True

    async def setup(self) -> None:
        """Create the tables if they are missing, and check their version
        (the first call of the store does it too): call it at start-up to
        find a wrong DSN or schema before the first request does.

        :raises tornsess.ConfigError: the tables are of a newer version.
        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        self._ready = False

        async def nothing(conn: Connection) -> None:
            return None

        await self._call(nothing)

    # -- the Database protocol ------------------------------------------------------

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        """Register ``listener(session_id)`` for the expired sessions that a
        load finds (and deletes). The store keeps no ids, so the sessions its
        sweep deletes are not reported."""
        self._listener = listener

    async def load(self, session_id: str) -> Record | None:
        """The session (one ``SELECT``), or ``None``: missing or expired. An
        expired row is deleted, and reported to the expire listener with the
        id this call was given (the store keeps none); an unreadable row is
        deleted, logged, and counts as missing. For a renewed session's old
        id in its grace window (a second ``SELECT``, only when no session
        row matched), the renewed session with
        :attr:`~tornsess.database.Record.successor` set.

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            return None
        key, now = store_key(session_id), time.time()
        schema = self._schema

        async def work(conn: Connection) -> Record | bool:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(schema.load, (key,))
            row = await cur.fetchone()
            if row is None:
                await cur.execute(schema.load_alias, (key, now, now))
                row = await cur.fetchone()
                if row is None:
                    return False
                try:
                    return _record(row)
                except _Unreadable:
                    return False  # the renewed session's own load deletes it
            expires_at = row[3]
            if expires_at is not None and expires_at <= now:
                # Reported once: by whoever deletes the row.
                await cur.execute(schema.delete_expired, (key, now))
                return cur.rowcount == 1
            try:
                loaded = _record(row)
            except _Unreadable as exc:
                await cur.execute(schema.delete, (key,))
                log.warning("tornsess: removed an unreadable PostgreSQL session row (%s)", exc)
                return False
            self._remember(key, row[4], row[5])
            return loaded

        found = await self._call(work)
        if isinstance(found, Record):
            return found
        if found and self._listener is not None:
            self._listener(session_id)
        return None

    async def create(self, session_id: str, record: Record) -> bool:
        """Insert a new session (replacing an expired row of the same key);
        ``False``, and nothing written, if a live session has the id, or a
        renewed session's old id in its grace window.

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()
        params = (
            key,
            record.created,
            record.accessed,
            record.deadline,
            record.expires_at,
            _pack(record.values, record.immutable, record.flashes),
            record.binding,
            record.issued,
            key,
            now,
            now,
        )
        schema = self._schema

        async def work(conn: Connection) -> bool:
            cur = await conn.execute(schema.insert, params)
            return cur.rowcount == 1

        return await self._call(work)

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        """Apply *ops* and set the times, atomically. When the row still
        holds what this process last read or wrote (the common case: the
        request loaded it), one ``UPDATE`` that writes the new data only if
        the row still holds the old (one round trip). Otherwise (another
        process wrote it since, or the process never saw it) one
        transaction: the row is locked (``SELECT ... FOR UPDATE``), the
        operations applied, the row written (``UPDATE``); two round trips.
        Without operations, one ``UPDATE`` of the times.

        :raises tornsess.SessionInterrupted: no live session has the id, or
            its row was unreadable (it is deleted); nothing is written.
        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id in its grace window (nothing is written; found by one more
            ``SELECT`` when no session row matched).
        :raises tornsess.ImmutableEntry: an operation touches an immutable
            key (nothing is written).
        :raises TypeError: an increment of a value that is not a number
            (nothing is written).
        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            raise SessionInterrupted("not a session id")
        key, now = store_key(session_id), time.time()
        schema = self._schema

        async def times_only(conn: Connection) -> bool | str:
            cur = await conn.execute(
                schema.update_times, (accessed, deadline, expires_at, key, now)
            )
            return cur.rowcount == 1 or await _moved(conn, schema, key, now) or False

        async def unchanged(conn: Connection) -> bool:
            seen = self._seen.get(key)
            if seen is None:
                return False
            try:
                data, binding = _applied(seen[0], seen[1], ops)
            except (_Unreadable, ImmutableEntry, TypeError):
                return False  # what was seen may be stale: the locked path decides
            cur = await conn.execute(
                schema.update_unchanged,
                (data, binding, accessed, deadline, expires_at, key, now, seen[0], seen[1]),
            )
            if cur.rowcount != 1:
                return False
            self._remember(key, data, binding)
            return True

        async def work(conn: Connection) -> bool | str:
            if await unchanged(conn):
                return True
            cur = conn.cursor(row_factory=tuple_row)
            async with conn.pipeline():
                await cur.execute("BEGIN")
                await cur.execute(schema.lock_row, (key, now))
                row = await cur.fetchone()
                if row is None:
                    await cur.execute("ROLLBACK")
                    return await _moved(conn, schema, key, now) or False
                try:
                    # ImmutableEntry and TypeError go up before anything is
                    # written; _call rolls back.
                    data, binding = _applied(row[0], row[1], ops)
                except _Unreadable as exc:
                    await cur.execute(schema.delete, (key,))
                    await cur.execute("COMMIT")
                    log.warning("tornsess: removed an unreadable PostgreSQL session row (%s)", exc)
                    return False
                await cur.execute(
                    schema.update, (data, binding, accessed, deadline, expires_at, key)
                )
                await cur.execute("COMMIT")
            self._remember(key, data, binding)
            return True

        done = await self._call(work if ops else times_only)
        if done is not True:
            if done:
                raise SessionMoved(done)
            raise SessionInterrupted("the session was destroyed or expired")

    def _remember(self, key: str, data: str, binding: str | None) -> None:
        """Keep what the row of *key* holds now, as this process read or
        wrote it (the oldest entry goes when there are too many)."""
        with self._seen_lock:  # a store may serve event loops in several threads
            seen = self._seen
            seen.pop(key, None)
            if len(seen) >= _SEEN:
                del seen[next(iter(seen))]
            seen[key] = (data, binding)

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        """Set the access and expiry times (one ``UPDATE``); ``False`` if the
        session is gone.

        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()
        schema = self._schema

        async def work(conn: Connection) -> bool | str:
            cur = await conn.execute(schema.touch, (accessed, expires_at, key, now))
            return cur.rowcount == 1 or await _moved(conn, schema, key, now) or False

        touched = await self._call(work)
        if isinstance(touched, str):
            raise SessionMoved(touched)
        return touched

    async def rename(self, old_id: str, new_id: str, issued: float | None = None) -> bool:
        """Move the session to *new_id*, its id issued at *issued* (``None``:
        now), in one ``UPDATE`` of its key (its user-index entries follow);
        the old id is dead at once. ``False`` if *new_id* is taken (by a
        session, or a renewed session's old id in its grace window).

        :raises tornsess.SessionInterrupted: no live session has *old_id*.
        :raises tornsess.errors.SessionMoved: *old_id* is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(old_id) or not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old, new, now = store_key(old_id), store_key(new_id), time.time()
        issued = now if issued is None else issued
        schema = self._schema

        async def work(conn: Connection) -> bool | str | None:
            try:
                cur = await conn.execute(schema.rename, (new, issued, old, now, new, now))
            except psycopg.errors.UniqueViolation:
                return False
            if cur.rowcount == 1:
                return True
            # Nothing moved: why (a rare path, which may take more queries).
            moved = await _moved(conn, schema, old, now)
            if moved is not None:
                return moved
            cur = await conn.execute(schema.exists, (old, now))
            return False if await cur.fetchone() is not None else None

        renamed = await self._call(work)
        if renamed is None:
            raise SessionInterrupted("the session was destroyed or expired")
        if isinstance(renamed, str):
            raise SessionMoved(renamed)
        return renamed

    async def renew(
        self, old_id: str, new_id: str, sealed: str, issued: float, grace_until: float
    ) -> bool | str:
        """Move the session to *new_id* (its id issued at *issued*; its
        user-index entries follow) and keep *old_id*'s key until
        *grace_until* as an alias holding *sealed* (none if that is past),
        in one transaction. The old row is locked first (``SELECT ... FOR
        UPDATE``), so concurrent renewals of one session take turns: the
        later one finds the row moved and returns the alias the first one
        left, and both requests end on one id.

        Returns ``True`` when renewed; ``False`` (nothing written) if
        *new_id* is taken; the alias's sealed text (nothing written) if
        *old_id* was renewed already.

        :raises tornsess.SessionInterrupted: no live session has *old_id*.
        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(old_id) or not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old, new, now = store_key(old_id), store_key(new_id), time.time()
        schema = self._schema

        async def work(conn: Connection) -> bool | str | None:
            cur = conn.cursor(row_factory=tuple_row)
            taken = conn.cursor(row_factory=tuple_row)
            try:
                async with conn.pipeline():
                    await cur.execute("BEGIN")
                    # Waits for a concurrent renewal; finds nothing if it moved the row.
                    await cur.execute(schema.lock_old, (old, now))
                    await taken.execute(schema.taken, (new, now, new, now))
                    if await cur.fetchone() is None:
                        await cur.execute("ROLLBACK")
                        # A statement of its own: it sees what that renewal committed.
                        return await _moved(conn, schema, old, now)
                    if await taken.fetchone() is not None:
                        await cur.execute("ROLLBACK")
                        return False
                    await cur.execute(schema.delete_expired, (new, now))
                    await cur.execute(schema.renew, (new, issued, old))
                    if grace_until > now:
                        await cur.execute(schema.add_alias, (old, new, sealed, grace_until))
                    await cur.execute("COMMIT")
            except psycopg.errors.UniqueViolation:
                return False  # the new key was taken meanwhile (rolled back)
            return True

        renewed = await self._call(work)
        if renewed is None:
            raise SessionInterrupted("the session was destroyed or expired")
        return renewed

    async def exists(self, session_id: str) -> bool:
        """Whether a live session has this id, or a renewed session's old id
        in its grace window.

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()
        schema = self._schema

        async def work(conn: Connection) -> bool:
            cur = await conn.execute(schema.taken, (key, now, key, now))
            return await cur.fetchone() is not None

        return await self._call(work)

    async def destroy(self, session_id: str) -> bool:
        """Delete the session and its user-index entries; ``True`` if it
        was live.

        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id in its grace window (nothing is written).
        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key, now = store_key(session_id), time.time()
        schema = self._schema

        async def work(conn: Connection) -> bool | str:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(schema.destroy, (key, now))
            row = await cur.fetchone()
            if row is None:
                return await _moved(conn, schema, key, now) or False
            return bool(row[0])

        destroyed = await self._call(work)
        if isinstance(destroyed, str):
            raise SessionMoved(destroyed)
        return destroyed

    async def destroy_all(self) -> list[str]:
        """Delete every session, index entry and renewed session's old id of
        this store's tables, in one transaction; returns ``[]`` (the store
        keeps no ids).

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        schema = self._schema

        async def work(conn: Connection) -> None:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                await conn.execute(schema.delete_users)
                await conn.execute(schema.delete_sessions)
                await conn.execute(schema.delete_aliases)
                await conn.execute("COMMIT")

        await self._call(work)
        return []

    async def count(self) -> int:
        """How many live sessions the table holds (a count of its rows: it
        reads the whole table's index or rows, for operations, not requests).

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        schema = self._schema
        now = time.time()

        async def work(conn: Connection) -> int:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(schema.count, (now,))
            row = await cur.fetchone()
            return int(row[0]) if row is not None else 0

        return await self._call(work)

    async def sweep(self) -> int:
        """Delete the expired rows now (in batches, skipping rows another
        process is sweeping), with their index entries, then the renewed
        sessions' old ids past their grace window; return how many sessions.

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        schema = self._schema
        total = 0
        while True:
            now = time.time()

            async def work(conn: Connection, now: float = now) -> int:
                cur = await conn.execute(schema.sweep, (now, _SWEEP_BATCH))
                return cur.rowcount

            count = await self._call(work)
            total += count
            if count < _SWEEP_BATCH:
                break
        while True:
            now = time.time()

            async def aliases(conn: Connection, now: float = now) -> int:
                cur = await conn.execute(schema.sweep_aliases, (now, _SWEEP_BATCH))
                return cur.rowcount

            if await self._call(aliases) < _SWEEP_BATCH:
                return total

    # -- the user index -------------------------------------------------------------

    async def index_add(
        self, tag: str, handle: str, session_id: str, expires_at: float | None
    ) -> None:
        """File *handle* -> *session_id* under *tag*, replacing an entry of
        the same handle. Entries go with their session's row, so
        *expires_at* is unused, and an entry for a session that no longer
        exists is not written.

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        if not is_valid_id(session_id):
            return
        key = store_key(session_id)
        schema = self._schema

        async def work(conn: Connection) -> None:
            with contextlib.suppress(psycopg.errors.ForeignKeyViolation):
                await conn.execute(schema.index_add, (tag, handle, key))

        await self._call(work)

    async def index_remove(self, tag: str, handle: str) -> None:
        """Delete the index entry of *handle* under *tag*.

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        schema = self._schema

        async def work(conn: Connection) -> None:
            await conn.execute(schema.index_remove, (tag, handle))

        await self._call(work)

    async def index_sessions(self, tag: str) -> list[tuple[str, Record]]:
        """``(handle, record)`` of every live session under *tag*, in one
        query. An entry goes with its session's row (destroyed, or swept
        once expired), so none points at a session that is gone; a session
        whose row is unreadable is deleted with its entries (logged).

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        schema = self._schema
        now = time.time()

        async def work(conn: Connection) -> list[tuple[str, Record]]:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(schema.index_sessions, (tag, now))
            found: list[tuple[str, Record]] = []
            unreadable: list[str] = []
            for handle, key, *row in await cur.fetchall():
                try:
                    found.append((handle, _record(row)))
                except _Unreadable as exc:
                    log.warning("tornsess: removed an unreadable PostgreSQL session row (%s)", exc)
                    unreadable.append(key)
            if unreadable:
                await cur.execute(schema.prune, (unreadable,))
            return found

        return await self._call(work)

    async def index_destroy(self, tag: str, handle: str) -> tuple[bool, str | None]:
        """Delete the session that *handle*'s entry points at, with its
        entries, in one statement; return whether it was live (the store
        keeps no ids).

        A renewal or a regenerate that moves the session while the statement
        waits for its row leaves the statement with the old key, which then
        matches nothing: while the entry still exists, it is read again (a
        statement of its own sees the move) and the session it names now is
        deleted, a few times at most. (Locking the entry first would take the
        locks in the opposite order to a renewal's, and deadlock.)

        :raises tornsess.StoreUnavailable: PostgreSQL failed or timed out.
        """
        schema = self._schema
        now = time.time()

        async def work(conn: Connection) -> bool:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(schema.index_destroy, (tag, handle, now))
            row = await cur.fetchone()
            for _ in range(_REVOKE_TRIES):
                if row is not None:
                    return bool(row[0])
                await cur.execute(schema.index_entry, (tag, handle))
                entry = await cur.fetchone()
                if entry is None:
                    return False
                await cur.execute(schema.delete_returning, (entry[0], now))
                row = await cur.fetchone()
            return row is not None and bool(row[0])

        return await self._call(work), None

    async def close(self) -> None:
        """Stop the sweep and close the store's connections on the running
        loop (a pool you passed is left to you): the idle ones now, those in
        use when their call ends. A later call opens new ones. Never raises."""
        await self._sweeper.stop()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        pid = os.getpid()
        for binding in list(self._bindings.values()):
            if binding.pid != pid:
                self._inherited.append(binding)
                self._bindings.pop(binding.loop, None)
            elif binding.loop is loop or binding.loop.is_closed():
                binding.close()
