"""PostgreSQLDatabase against real PostgreSQL servers: round trips, the
table layout (hashed keys, the login binding's column), expiry and the
sweep, the schema (its version, two stores creating it at once), values
that SQL would choke on, unreadable rows, a server paused, stopped and
restarted, event loops, and two app processes on one database.

``python -m tests.test_postgresql --port=P --dsn=DSN --table=T`` serves the
test application on a PostgreSQL store (the two-process tests run it)."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.pq import Trace
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

import tornsess
from tests.apps import make_app
from tests.helpers import (
    AppProcess,
    Browser,
    OwnPostgres,
    free_port,
    outlive_a_grace_window,
    race_two_renewals,
    renew,
)
from tornsess import ConfigError, SessionInterrupted, Sessions, StoreUnavailable
from tornsess.database import Binding, Op, Record
from tornsess.errors import SessionMoved
from tornsess.ids import new_id, open_successor, store_key
from tornsess.sessiondb import PostgreSQLDatabase
from tornsess.sessiondb.postgresql import SCHEMA_VERSION

NAME = tornsess.DEFAULT_COOKIE_NAME
ROOT = Path(__file__).resolve().parent.parent


def unique(name: str = "t") -> str:
    return f"{name}{uuid.uuid4().hex[:12]}"


def record(**values: str) -> Record:
    """A stored session holding *values* (codec text)."""
    return Record(values, frozenset(), {}, 1.0, 1.0, None, None)


@pytest.fixture
def admin(postgresql_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain connection to the test server, for looking from outside."""
    conn = psycopg.connect(postgresql_dsn, autocommit=True)
    yield conn
    conn.close()


def rows(admin: psycopg.Connection[Any], table: str, columns: str = "*") -> list[Any]:
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(columns), sql.Identifier(table))
    return admin.execute(query).fetchall()


def tornsess_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tornsess"]


# -- round trips ------------------------------------------------------------------


class Traced:
    """A pool of one connection whose protocol messages libpq traces
    (``PGconn.trace``, psycopg's public libpq API) into a file: a round trip
    is the client sending messages, then reading the server's answer."""

    def __init__(self, dsn: str, folder: Path) -> None:
        self.path = folder / "libpq.trace"
        self.file = open(self.path, "w")
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=1,
            kwargs={"autocommit": True},
            configure=self.configure,
            open=False,
        )
        self.mark = 0

    async def configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        conn.pgconn.trace(self.file.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)

    async def flush(self) -> None:
        """Have libpq write out what it traced (it buffers the file):
        ``untrace`` flushes it, then tracing goes on. Taking the pool's one
        connection costs no round trip."""
        async with self.pool.connection() as conn:
            conn.pgconn.untrace()
            await self.configure(conn)

    async def reset(self) -> None:
        await self.flush()
        self.mark = self.path.stat().st_size

    async def round_trips(self) -> int:
        await self.flush()
        with open(self.path) as trace:
            trace.seek(self.mark)
            lines = trace.read().splitlines()
        count, sent = 0, False
        for line in lines:
            if line.startswith("F"):
                sent = True
            elif line.startswith("B") and sent:
                count, sent = count + 1, False
        return count

    async def close(self) -> None:
        await self.pool.close()
        self.file.close()


@pytest.mark.gen_test
async def test_one_round_trip_to_load_one_to_commit(
    serve: Callable[..., Browser], postgresql_dsn: str, tmp_path: Path
) -> None:
    traced = Traced(postgresql_dsn, tmp_path)
    await traced.pool.open(wait=True)
    table = unique()
    db = PostgreSQLDatabase(pool=traced.pool, table=table)
    manager = Sessions(idle_timeout=1.0)
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/set?key=a&value=b")
    for _ in range(6):  # psycopg prepares a statement at its 5th use
        await browser.get("/incr?key=n")
    for expected in (7, 8):
        await traced.reset()
        assert (await browser.get("/get")).json()["values"] == {"a": "b", "n": expected - 1}
        assert await traced.round_trips() == 1  # the SELECT
        await traced.reset()
        assert (await browser.get("/incr?key=n")).json()["value"] == expected
        # the SELECT; then one UPDATE, of a row that still holds what was read
        assert await traced.round_trips() == 2
    # Another process (a store of its own) writes the row between this
    # request's load and its commit: the UPDATE finds the row changed, and
    # the locked transaction applies the increment to what is there now.
    other = PostgreSQLDatabase(postgresql_dsn, table=table)
    sid = browser.jar[NAME]  # the plain encoder: the cookie is the id
    await traced.reset()
    loaded = await db.load(sid)
    assert loaded is not None
    await other.commit(sid, [Op("incr", "n", "100")], time.time(), None, None)
    await db.commit(sid, [Op("incr", "n", "1")], time.time(), None, None)
    # the SELECT; the UPDATE that matched nothing; BEGIN + SELECT ... FOR
    # UPDATE; UPDATE + COMMIT
    assert await traced.round_trips() == 4
    assert (await browser.get("/get")).json()["values"] == {"a": "b", "n": 109}
    await other.close()
    # An idle refresh: the load, then one UPDATE of the times.
    await asyncio.sleep(0.15)
    await traced.reset()
    assert (await browser.get("/get")).code == 200
    assert await traced.round_trips() == 2
    await traced.reset()
    assert (await browser.get("/nosession")).code == 200
    assert (await browser.get("/get", cookie=f"{NAME}=garbage*", keep=False)).code == 200
    assert await traced.round_trips() == 0
    await db.close()
    await traced.close()


# -- the table -------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_rows_are_keyed_by_hash_and_the_binding_has_its_own_column(
    serve: Callable[..., Browser], postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    manager = Sessions(expires=600)
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/set?key=cart&value=socks")
    sid = (await browser.get("/login?user=alice")).json()["id"]
    ((key, data, binding, expires_at),) = rows(admin, table, "key, data, binding, expires_at")
    assert key == store_key(sid)
    assert sid not in data and sid not in binding
    assert '"alice"' in binding and "alice" not in data  # the binding is not a value
    assert data == '{"v":{"cart":"\\"socks\\""},"i":[],"f":{}}'
    assert 590 < expires_at - time.time() <= 600
    ((tag, handle, entry_key),) = rows(admin, f"{table}_users", "tag, handle, key")
    assert tag == handle.split("~")[0] and entry_key == key
    assert rows(admin, f"{table}_version", "version") == [(SCHEMA_VERSION,)]
    # A regenerate moves the row and its index entry to the new key.
    new = (await browser.get("/regenerate")).json()["new"]
    assert rows(admin, table, "key") == [(store_key(new),)]
    assert rows(admin, f"{table}_users", "key") == [(store_key(new),)]
    assert await db.count() == 1
    # Logging out removes both.
    await browser.get("/destroy")
    assert rows(admin, table) == [] and rows(admin, f"{table}_users") == []
    assert await db.count() == 0
    await db.close()


@pytest.mark.gen_test
async def test_a_schema_qualified_table(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    schema = unique("s")
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    db = PostgreSQLDatabase(postgresql_dsn, table=f"{schema}.Sessions")
    sid = new_id()
    assert await db.create(sid, record(a='"b"'))
    loaded = await db.load(sid)
    assert loaded is not None and loaded.values == {"a": '"b"'}
    found = admin.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY table_name",
        (schema,),
    ).fetchall()
    assert found == [
        ("Sessions",),
        ("Sessions_aliases",),
        ("Sessions_users",),
        ("Sessions_version",),
    ]
    await db.close()


# -- expiry ----------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_expired_rows_are_never_loaded_and_the_sweep_deletes_them(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table, sweep_interval=0.1)
    now = time.time()
    expired = [new_id() for _ in range(5)]
    live = new_id()
    for sid in expired:
        assert await db.create(sid, Record({}, frozenset(), {}, now, now, None, now - 1))
    assert await db.create(live, Record({}, frozenset(), {}, now, now, None, now + 600))
    await db.index_add("tag", "tag~gone", expired[0], None)
    assert await db.load(expired[1]) is None
    assert not await db.exists(expired[2])
    assert not await db.touch(expired[3], now, now + 600)
    with pytest.raises(SessionInterrupted):
        await db.commit(expired[4], [Op("set", "a", "1")], now, None, now + 600)
    assert await db.index_sessions("tag") == []
    # The periodic sweep (started by the calls above) deletes the rest,
    # and the index entry with its session.
    for _ in range(500):
        if len(rows(admin, table)) == 1:
            break
        await asyncio.sleep(0.02)
    assert rows(admin, table, "key") == [(store_key(live),)]
    assert rows(admin, f"{table}_users") == []
    await db.close()


@pytest.mark.gen_test
async def test_the_sweep_finds_expired_rows_through_the_expiry_index(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    await db.setup()
    identifier = sql.Identifier(table)
    admin.execute(
        sql.SQL(
            "INSERT INTO {} (key, created, accessed, expires_at, data) "
            "SELECT md5(i::text), 0, 0, %s + i, '{{}}' FROM generate_series(1, 20000) i"
        ).format(identifier),
        (time.time() + 3600,),
    )
    admin.execute(sql.SQL("ANALYZE {}").format(identifier))
    plan = " ".join(
        row[0]
        for row in admin.execute(
            sql.SQL(
                "EXPLAIN SELECT key FROM {} WHERE expires_at IS NOT NULL AND expires_at <= %s "
                "ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
            ).format(identifier),
            (time.time(),),
        )
    )
    assert f"{table}_expiry" in plan and "Seq Scan" not in plan
    assert await db.sweep() == 0
    admin.execute(
        sql.SQL("UPDATE {} SET expires_at = 1 WHERE key IN (SELECT key FROM {} LIMIT 2500)").format(
            identifier, identifier
        )
    )
    assert await db.sweep() == 2500  # in batches of 1000
    assert len(rows(admin, table, "key")) == 17500
    await db.close()


# -- the schema ----------------------------------------------------------------------


@pytest.mark.gen_test
async def test_a_newer_schema_is_refused(
    serve: Callable[..., Browser], postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    first = PostgreSQLDatabase(postgresql_dsn, table=table)
    await first.setup()
    await first.close()
    admin.execute(
        sql.SQL("UPDATE {} SET version = %s").format(sql.Identifier(f"{table}_version")),
        (SCHEMA_VERSION + 1,),
    )
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    with pytest.raises(ConfigError) as info:
        await db.setup()
    assert "newer" in str(info.value) and info.value.field == "table"
    with pytest.raises(ConfigError):
        await db.load(new_id())
    await db.close()


def first_calls_at_once(
    dsn: str, table: str, call: Callable[[PostgreSQLDatabase], Awaitable[object]]
) -> list[object]:
    """``call(store)`` by eight stores on *table*, each on an event loop of
    its own thread, all at the same moment; their outcomes (or errors)."""
    start = threading.Barrier(8)
    outcomes: list[object] = []

    def run() -> None:
        async def first_call() -> object:
            db = PostgreSQLDatabase(dsn, table=table, timeout=10)
            try:
                start.wait(30)
                return await call(db)
            except Exception as exc:
                return exc
            finally:
                await db.close()

        outcomes.append(asyncio.run(first_call()))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_stores_creating_the_schema_at_once_do_not_fail(postgresql_dsn: str) -> None:
    # Eight stores, each on an event loop of its own thread, make their
    # first call at the same moment, for each of several fresh tables.
    for _ in range(3):
        table = unique()

        async def first_call(db: PostgreSQLDatabase) -> object:
            sid = new_id()
            await db.create(sid, record(a='"b"'))
            loaded = await db.load(sid)
            return loaded.values if loaded is not None else None

        outcomes = first_calls_at_once(postgresql_dsn, table, first_call)
        assert outcomes == [{"a": '"b"'}] * 8
        with psycopg.connect(postgresql_dsn) as conn:
            versions = conn.execute(
                sql.SQL("SELECT version FROM {}").format(sql.Identifier(f"{table}_version"))
            ).fetchall()
        assert versions == [(SCHEMA_VERSION,)]


@pytest.mark.gen_test
async def test_tables_dropped_under_the_store_are_made_again(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    assert await db.create(new_id(), record())
    admin.execute(
        sql.SQL("DROP TABLE {}, {}, {}, {}").format(
            sql.Identifier(f"{table}_users"),
            sql.Identifier(table),
            sql.Identifier(f"{table}_aliases"),
            sql.Identifier(f"{table}_version"),
        )
    )
    with pytest.raises(StoreUnavailable):
        await db.load(new_id())
    sid = new_id()
    assert await db.create(sid, record(a="1"))
    assert (await db.load(sid)) is not None
    await db.close()


# -- id renewal ------------------------------------------------------------------------


def every_text(admin: psycopg.Connection[Any], table: str) -> str:
    """Everything the store's four tables hold, as one text."""
    parts = [
        repr(rows(admin, name))
        for name in (table, f"{table}_users", f"{table}_aliases", f"{table}_version")
    ]
    return "\n".join(parts)


@pytest.mark.gen_test
async def test_a_renewal_moves_the_row_and_its_entry_and_keeps_no_id(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    old, new = new_id(), new_id()
    created = time.time() - 100
    stored = Record({"a": '"b"'}, frozenset({"a"}), {"f": "1"}, created, created, None, None)
    assert await db.create(old, stored)
    await db.index_add("tag", "tag~one", old, None)
    loaded = await db.load(old)
    assert loaded is not None and loaded.issued == created  # NULL: at its creation
    before = time.time()
    assert await renew(db, old, new) is True
    # The session's row, under the new key, issued now; the old key an alias.
    assert rows(admin, table, "key, issued") == [(store_key(new), pytest.approx(before, abs=1))]
    ((alias_key, target, sealed, until),) = rows(admin, f"{table}_aliases")
    assert (alias_key, target) == (store_key(old), store_key(new))
    assert open_successor(old, sealed) == new and before + 29 < until <= time.time() + 30
    assert rows(admin, f"{table}_users", "key") == [(store_key(new),)]
    text = every_text(admin, table)
    assert old not in text and new not in text
    # The renewed session, under both ids; the old one says where it went.
    renewed = await db.load(new)
    assert renewed is not None and renewed.successor is None
    assert renewed.values == {"a": '"b"'} and renewed.immutable == {"a"}
    assert renewed.flashes == {"f": "1"} and renewed.created == created
    assert renewed.issued == pytest.approx(before, abs=1)
    through = await db.load(old)
    assert through is not None and through.successor == sealed
    assert through.values == renewed.values and through.issued == renewed.issued
    # The index reads and destroys the renewed session.
    ((handle, indexed),) = await db.index_sessions("tag")
    assert handle == "tag~one" and indexed.values == {"a": '"b"'}
    assert await db.index_destroy("tag", "tag~one") == (True, None)
    assert await db.load(new) is None and await db.load(old) is None
    await db.close()


@pytest.mark.gen_test
async def test_calls_on_an_old_id_write_nothing_and_say_where_it_went(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    old, new, other = new_id(), new_id(), new_id()
    assert await db.create(old, record(a="1"))
    assert await renew(db, old, new) is True
    before = rows(admin, table)
    for call in (
        db.commit(old, [Op("set", "a", "2")], 5.0, None, None),
        db.commit(old, [], 5.0, None, None),  # the times only
        db.touch(old, 5.0, None),
        db.rename(old, other),
        db.destroy(old),
    ):
        with pytest.raises(SessionMoved) as info:
            await call
        assert open_successor(old, info.value.successor) == new
    assert rows(admin, table) == before  # nothing written
    assert await db.exists(old) and await db.exists(new) and not await db.exists(other)
    # The old id is taken: no new session there, no session renamed onto it.
    assert not await db.create(old, record())
    assert await db.create(other, record())
    assert await db.rename(other, old) is False
    assert await renew(db, other, old) is False
    # A second renewal of the old id gives the first one's new id.
    again = await renew(db, old, new_id())
    assert isinstance(again, str) and open_successor(old, again) == new
    assert len(rows(admin, table)) == 2 and len(rows(admin, f"{table}_aliases")) == 1
    # A missing id is still just missing.
    missing = new_id()
    assert not await db.destroy(missing) and not await db.touch(missing, 5.0, None)
    with pytest.raises(SessionInterrupted):
        await db.commit(missing, [Op("set", "a", "2")], 5.0, None, None)
    with pytest.raises(SessionInterrupted):
        await renew(db, missing, new_id())
    # A rename kills the old id at once: no alias, and the renewed id's old
    # one no longer names it.
    renamed = new_id()
    assert await db.rename(new, renamed) is True
    assert len(rows(admin, f"{table}_aliases")) == 1  # only the renewal's
    assert await db.load(new) is None and await db.load(old) is None
    loaded = await db.load(renamed)
    assert loaded is not None and loaded.values == {"a": "1"} and loaded.successor is None
    # destroy_all takes the aliases too.
    await db.destroy_all()
    assert rows(admin, f"{table}_aliases") == [] and not await db.exists(old)
    await db.close()


@pytest.mark.gen_test(timeout=30)
async def test_an_old_id_is_unknown_after_its_grace_window(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    _, new = await outlive_a_grace_window(db)
    loaded = await db.load(new)
    assert loaded is not None and loaded.values == {"a": "1"}
    # The sweep deletes the alias row; a window already over leaves none.
    assert len(rows(admin, f"{table}_aliases")) == 1
    await db.sweep()
    assert rows(admin, f"{table}_aliases") == []
    assert await renew(db, new, new_id(), grace=-1) is True
    assert rows(admin, f"{table}_aliases") == [] and len(rows(admin, table)) == 1
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_renewals_on_two_stores_end_on_one_id(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    first = PostgreSQLDatabase(postgresql_dsn, table=table)
    second = PostgreSQLDatabase(postgresql_dsn, table=table)
    for _ in range(5):
        old = new_id()
        assert await first.create(old, record(a="1"))
        await first.index_add("tag", f"tag~{old[:8]}", old, None)
        # Both renewals wait on the session's row, which a third connection
        # holds, then race for it when it lets go.
        admin.execute("BEGIN")
        admin.execute(
            sql.SQL("SELECT 1 FROM {} WHERE key = %s FOR UPDATE").format(sql.Identifier(table)),
            (store_key(old),),
        )
        winner = await race_two_renewals((first, second), old, lambda: admin.execute("COMMIT"))
        assert rows(admin, table, "key") == [(store_key(winner),)]
        aliases = rows(admin, f"{table}_aliases", "key, target")
        assert aliases == [(store_key(old), store_key(winner))]
        assert rows(admin, f"{table}_users", "key") == [(store_key(winner),)]
        await first.destroy_all()
    await first.close()
    await second.close()


@pytest.mark.gen_test(timeout=60)
async def test_two_apps_renewing_one_session_at_once_end_on_one_id(
    serve: Callable[..., Browser], postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    from tests.test_renewal import old_session

    table = unique()
    managers, servers, stores = [], [], []
    for _ in range(2):
        managers.append(Sessions(renew_after=600, renew_grace=30))
        stores.append(PostgreSQLDatabase(postgresql_dsn, table=table))
        managers[-1].use_database(stores[-1])
        servers.append(serve(make_app(managers[-1])))
    # Issued an hour ago, so due; a window long enough for a loaded machine.
    old, token = await old_session(managers[0], {"a": "b"}, user="ursula")
    cookie = f"{NAME}={token}"
    clients = [servers[i % 2].fork() for i in range(8)]
    replies = await asyncio.gather(
        *(client.get(f"/set?key=k{i}&value={i}", cookie=cookie) for i, client in enumerate(clients))
    )
    assert all(reply.code == 200 for reply in replies)
    # Every client was sent the one new id, and holds the renewed session.
    seen = [(await client.get("/info")).json() for client in clients]
    ids = {info["id"] for info in seen}
    assert len(ids) == 1 and old not in ids
    ((key,),) = rows(admin, table, "key")
    assert key == store_key(ids.pop())
    assert all(info["user"] == "ursula" for info in seen)
    values = seen[0]["values"]
    assert {"a": "b", **{f"k{i}": str(i) for i in range(8)}}.items() <= values.items()
    assert len(rows(admin, f"{table}_users")) == 1
    for db in stores:
        await db.close()


@pytest.mark.gen_test
async def test_round_trips_to_renew_and_to_load_through_an_old_id(
    postgresql_dsn: str, tmp_path: Path
) -> None:
    traced = Traced(postgresql_dsn, tmp_path)
    await traced.pool.open(wait=True)
    db = PostgreSQLDatabase(pool=traced.pool, table=unique())
    old, new = new_id(), new_id()
    assert await db.create(old, record(a="1"))
    await traced.reset()
    assert await renew(db, old, new) is True
    # BEGIN + SELECT ... FOR UPDATE + the new key's check; then the moves + COMMIT
    assert await traced.round_trips() == 2
    for _ in range(6):  # psycopg prepares a statement at its 5th use
        await db.load(old)
        await db.load(new)
    for sid in (old, new):
        await traced.reset()
        loaded = await db.load(sid)
        assert loaded is not None and loaded.values == {"a": "1"}
        assert (loaded.successor is None) == (sid == new)
        # A session's own load is one SELECT; only one that found no session
        # row reads the aliases, in a second.
        assert await traced.round_trips() == (1 if sid == new else 2)
    await db.close()
    await traced.close()


# -- the schema's upgrade -------------------------------------------------------------

V1_TABLES = [
    "CREATE TABLE {version} (version integer NOT NULL)",
    "CREATE TABLE {sessions} (key text PRIMARY KEY, created double precision NOT NULL,"
    " accessed double precision NOT NULL, deadline double precision,"
    " expires_at double precision, data text NOT NULL, binding text)",
    "CREATE INDEX {expiry} ON {sessions} (expires_at) WHERE expires_at IS NOT NULL",
    "CREATE TABLE {users} (tag text NOT NULL, handle text NOT NULL,"
    " key text NOT NULL REFERENCES {sessions} (key) ON DELETE CASCADE ON UPDATE CASCADE,"
    " PRIMARY KEY (tag, handle))",
    "CREATE INDEX {users_key} ON {users} (key)",
    "INSERT INTO {version} (version) VALUES (1)",
]


def make_v1_tables(admin: psycopg.Connection[Any], table: str) -> None:
    """The tables of schema version 1, as the previous release made them."""
    names = {
        "sessions": sql.Identifier(table),
        "users": sql.Identifier(f"{table}_users"),
        "version": sql.Identifier(f"{table}_version"),
        "expiry": sql.Identifier(f"{table}_expiry"),
        "users_key": sql.Identifier(f"{table}_users_key"),
    }
    with admin.transaction():
        for statement in V1_TABLES:
            admin.execute(sql.SQL(statement).format(**names))


def test_version_1_tables_are_upgraded_once_by_stores_starting_at_once(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    make_v1_tables(admin, table)
    sid = new_id()
    admin.execute(
        sql.SQL(
            "INSERT INTO {} (key, created, accessed, deadline, expires_at, data, binding)"
            " VALUES (%s, 100, 200, NULL, NULL, %s, %s)"
        ).format(sql.Identifier(table)),
        (store_key(sid), '{"v":{"a":"\\"b\\""},"i":[],"f":{}}', '{"u":"x"}'),
    )
    admin.execute(
        sql.SQL("INSERT INTO {} (tag, handle, key) VALUES ('tag', 'tag~one', %s)").format(
            sql.Identifier(f"{table}_users")
        ),
        (store_key(sid),),
    )
    # Eight stores, each on an event loop of its own thread, make their
    # first call on the version 1 tables at the same moment.

    async def first_call(db: PostgreSQLDatabase) -> object:
        loaded = await db.load(sid)
        if loaded is None:
            return None
        return (dict(loaded.values), loaded.created, loaded.issued, loaded.binding)

    outcomes = first_calls_at_once(postgresql_dsn, table, first_call)
    assert outcomes == [({"a": '"b"'}, 100.0, 100.0, '{"u":"x"}')] * 8
    assert rows(admin, f"{table}_version", "version") == [(SCHEMA_VERSION,)] == [(2,)]
    assert rows(admin, f"{table}_aliases") == []

    async def renew_it() -> tuple[bool | str, Record | None, list[tuple[str, Record]]]:
        db = PostgreSQLDatabase(postgresql_dsn, table=table)
        try:
            new = new_id()
            renewed = await renew(db, sid, new)
            return renewed, await db.load(sid), await db.index_sessions("tag")
        finally:
            await db.close()

    # The upgraded tables renew the old session, index entry included.
    renewed, through, indexed = asyncio.run(renew_it())
    assert renewed is True and through is not None and through.successor is not None
    assert through.values == {"a": '"b"'} and through.issued > 100
    assert [(handle, entry.values) for handle, entry in indexed] == [("tag~one", {"a": '"b"'})]
    ((key,),) = rows(admin, f"{table}_users", "key")
    assert rows(admin, table, "key") == [(key,)] and key != store_key(sid)


# -- values and names that SQL would choke on ---------------------------------------

NASTY = [
    "it's",
    'say "hi"',
    "back\\slash",
    "nul\x00byte",
    "'; DROP TABLE tornsess_sessions; --",
    "\x00",
    "é\u2028☃",
    "$1 %s {}",
]


@pytest.mark.gen_test
async def test_keys_and_values_with_quotes_backslashes_and_nul_come_back_equal(
    serve: Callable[..., Browser], postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    body = {f"k{i}{text}": text for i, text in enumerate(NASTY)}
    await browser.post("/set", body)
    await browser.post("/flash/set", {text: text for text in NASTY})
    assert (await browser.get("/get")).json()["values"] == body
    # Straight through the store as well, with NUL in every part.
    sid = new_id()
    ops = [Op("set", text, tornsess.codec.dumps(text)) for text in NASTY]
    ops += [Op("set_immutable", "imm\x00'", '"x"'), Op("flash_set", "f\x00", '"\\u0000"')]
    assert await db.create(sid, record())
    await db.commit(sid, ops, 2.0, None, None)
    loaded = await db.load(sid)
    assert loaded is not None
    assert {k: tornsess.codec.loads(v) for k, v in loaded.values.items()} == {
        **{text: text for text in NASTY},
        "imm\x00'": "x",
    }
    assert loaded.immutable == {"imm\x00'"} and loaded.flashes == {"f\x00": '"\\u0000"'}
    # Every table is still there, and holds the two sessions.
    assert len(rows(admin, table)) == 2
    assert (
        admin.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'tornsess%'").fetchone()
        is not None
    )
    await db.close()


@pytest.mark.parametrize(
    "table",
    [
        "",
        "a b",
        'x"; DROP TABLE y; --',
        "x'",
        "1abc",
        "a.b.c",
        ".a",
        "a" * 41,
        "tab\x00le",
    ],
)
def test_table_names_are_identifiers_only(table: str) -> None:
    with pytest.raises(ConfigError) as info:
        PostgreSQLDatabase("postgresql://127.0.0.1/x", table=table)
    assert info.value.field == "table"


def test_arguments() -> None:
    with pytest.raises(ConfigError):
        PostgreSQLDatabase()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool("", open=False)
    with pytest.raises(ConfigError):
        PostgreSQLDatabase("postgresql://127.0.0.1/x", pool=pool)
    with pytest.raises(ConfigError):
        PostgreSQLDatabase("postgresql://127.0.0.1/x", timeout=0)
    with pytest.raises(ConfigError):
        PostgreSQLDatabase("postgresql://127.0.0.1/x", sweep_interval=-1)
    with pytest.raises(ConfigError) as info:
        PostgreSQLDatabase("postgresql://user:hunter2@127.0.0.1/x?nonsense=1")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        PostgreSQLDatabase("host=127.0.0.1 password=hunter2 port")
    assert "hunter2" not in str(info.value)


@pytest.mark.gen_test
async def test_bad_ids_never_reach_the_server(postgresql_dsn: str) -> None:
    db = PostgreSQLDatabase("postgresql://127.0.0.1:1/nothing", timeout=0.5)
    for bad in ["*", "a'b", "x y", "", "é", "a" * 129, "\x00"]:
        assert await db.load(bad) is None
        assert await db.exists(bad) is False
        assert await db.destroy(bad) is False
        assert await db.touch(bad, 0.0, None) is False
        assert await db.create(bad, record()) is False
        with pytest.raises(SessionInterrupted):
            await db.commit(bad, [], 0.0, None, None)
        with pytest.raises(SessionInterrupted):
            await db.rename(bad, new_id())
    with pytest.raises(StoreUnavailable):  # nothing listens there: it did not ask
        await db.load(new_id())
    await db.close()


# -- rows the store cannot read --------------------------------------------------------


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "column, value",
    [
        ("data", "not json"),
        ("data", '["a list"]'),
        ("data", '{"v": ["not", "an", "object"]}'),
        ("data", '{"v": {}, "i": "not a list"}'),
        ("created", "NaN"),
        ("expires_at", "Infinity"),
    ],
)
async def test_an_unreadable_row_is_a_fresh_session_and_one_log_line(
    serve: Callable[..., Browser],
    postgresql_dsn: str,
    admin: psycopg.Connection[Any],
    caplog: pytest.LogCaptureFixture,
    column: str,
    value: str,
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    admin.execute(
        sql.SQL("UPDATE {} SET {} = %s").format(sql.Identifier(table), sql.Identifier(column)),
        (value,),
    )
    with caplog.at_level(logging.INFO, logger="tornsess"):
        response = await browser.get("/get")
    assert response.code == 200
    assert response.json()["is_new"] is True and response.json()["id"] != sid
    (line,) = tornsess_records(caplog)
    assert line.levelno == logging.WARNING and "unreadable" in line.getMessage()
    assert store_key(sid) not in [key for (key,) in rows(admin, table, "key")]
    await db.close()


@pytest.mark.gen_test
async def test_a_stored_value_of_the_wrong_type_is_left_out(
    serve: Callable[..., Browser],
    postgresql_dsn: str,
    admin: psycopg.Connection[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    admin.execute(
        sql.SQL("UPDATE {} SET data = %s").format(sql.Identifier(table)),
        ('{"v": {"a": "\\"b\\"", "n": 5}, "i": [], "f": {}}',),
    )
    with caplog.at_level(logging.INFO, logger="tornsess"):
        response = await browser.get("/get")
    assert response.json() == {**response.json(), "id": sid, "values": {"a": "b"}}
    (line,) = tornsess_records(caplog)
    assert "corrupt stored value entry 'n'" in line.getMessage()
    await db.close()


# -- operations, as the reference applies them ----------------------------------------


def test_operations_apply_like_the_reference(postgresql_dsn: str) -> None:
    from tests.test_store_properties import OPS, STATES, check

    loop = asyncio.new_event_loop()
    db = PostgreSQLDatabase(postgresql_dsn, table=unique("props"))

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(STATES, st.lists(OPS, max_size=8))
    def prop(state: Any, ops: list[Op]) -> None:
        loop.run_until_complete(check(db, state, ops))

    try:
        prop()
    finally:
        loop.run_until_complete(db.close())
        loop.close()


# -- a pool of the application's -------------------------------------------------------


@pytest.mark.gen_test
async def test_a_pool_in_transaction_mode_with_dict_rows(postgresql_dsn: str) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        postgresql_dsn, min_size=1, max_size=2, kwargs={"row_factory": dict_row}, open=False
    )
    await pool.open(wait=True)
    db = PostgreSQLDatabase(pool=pool, table=unique())
    sid = new_id()
    assert await db.create(sid, record(n="1"))
    await db.commit(sid, [Op("incr", "n", "2")], 2.0, None, None)
    loaded = await db.load(sid)
    assert loaded is not None and loaded.values == {"n": "3"}
    await db.index_add("tag", "tag~1", sid, None)
    assert [handle for handle, _ in await db.index_sessions("tag")] == ["tag~1"]
    async with pool.connection() as conn:
        assert conn.autocommit is False  # given back as it was lent
        assert (await (await conn.execute("SELECT 1 AS one")).fetchone()) == {"one": 1}
    await db.close()
    assert not pool.closed  # the application's to close
    await pool.close()


# -- event loops ----------------------------------------------------------------------


def server_connections(dsn: str, name: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def settle(read: Callable[[], int], expected: int) -> int:
    """*read()* once it equals *expected*, or its last value after 10 s."""
    deadline = time.monotonic() + 10
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        value = read()
    return value


def test_each_event_loop_has_its_pool_closed_with_it(postgresql_dsn: str) -> None:
    name = unique("loops")
    db = PostgreSQLDatabase(f"{postgresql_dsn}?application_name={name}", table=unique())
    sid = new_id()

    async def use(round: int) -> None:
        if round == 0:
            assert await db.create(sid, record(n="0"))
        await db.commit(sid, [Op("incr", "n", "1")], 2.0, None, None)
        loaded = await db.load(sid)
        assert loaded is not None and loaded.values == {"n": str(round + 1)}
        assert server_connections(postgresql_dsn, name) >= 1

    for round in range(3):
        asyncio.run(use(round))
        # asyncio.run shut the loop down: its pool is closed.
        assert settle(lambda: server_connections(postgresql_dsn, name), 0) == 0


FORKED = """
import asyncio, os, sys
from tornsess.database import Binding, Op, Record
from tornsess.ids import new_id
from tornsess.sessiondb import PostgreSQLDatabase

dsn, table, children_loop = sys.argv[1:4]
db = PostgreSQLDatabase(dsn, table=table)
loop = asyncio.new_event_loop()
sid = new_id()
start = Record({"n": "0"}, frozenset(), {}, 1.0, 1.0, None, None)
assert loop.run_until_complete(db.create(sid, start))
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        async def child():
            await db.commit(sid, [Op("incr", "n", "1")], 2.0, None, None)
        if children_loop == "inherited":
            loop.run_until_complete(child())
        else:
            asyncio.run(child())
        sys.exit(0)  # a normal exit: the interpreter frees what it holds
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
# The parent's connection, opened before the forks, still works.
record = loop.run_until_complete(db.load(sid))
loop.run_until_complete(db.close())
loop.close()
print(record.values["n"])
"""


@pytest.mark.parametrize("children_loop", ["inherited", "new"])
def test_forked_children_leave_the_parents_connections_alone(
    postgresql_dsn: str, children_loop: str
) -> None:
    name = unique("fork")
    dsn = f"{postgresql_dsn}?application_name={name}"
    done = subprocess.run(
        [sys.executable, "-c", FORKED, dsn, unique(), children_loop],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3"]  # three children's increments, read by the parent


@pytest.mark.gen_test
async def test_a_role_that_may_not_create_tables_uses_existing_ones(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    table, role = unique(), unique("role")
    owner = PostgreSQLDatabase(postgresql_dsn, table=table)
    await owner.setup()
    await owner.close()
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    names = (table, f"{table}_users", f"{table}_aliases", f"{table}_version")
    tables = [sql.Identifier(name) for name in names]
    admin.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
            sql.SQL(", ").join(tables), sql.Identifier(role)
        )
    )
    admin.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    dsn = postgresql_dsn.replace("postgres@", f"{role}@")
    db = PostgreSQLDatabase(dsn, table=table)
    sid = new_id()
    assert await db.create(sid, record(a='"b"'))
    await db.commit(sid, [Op("incr", "n", "1")], 2.0, None, None)
    loaded = await db.load(sid)
    assert loaded is not None and loaded.values == {"a": '"b"', "n": "1"}
    # Missing tables it may not create: a 503, not a crash.
    elsewhere = PostgreSQLDatabase(dsn, table=unique())
    with pytest.raises(StoreUnavailable) as info:
        await elsewhere.load(sid)
    assert "permission denied" in str(info.value)
    await db.close()
    await elsewhere.close()


# -- failures -----------------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_a_paused_server_gives_503_within_the_timeout_and_recovers(
    serve: Callable[..., Browser], own_postgres: OwnPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    db = PostgreSQLDatabase(own_postgres.dsn, timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    own_postgres.signal(signal.SIGSTOP)
    try:
        with caplog.at_level(logging.INFO):
            session_request = asyncio.ensure_future(browser.get("/get"))
            plain_request = asyncio.ensure_future(browser.get("/nosession"))
            done, _ = await asyncio.wait(
                [session_request, plain_request], return_when=asyncio.FIRST_COMPLETED
            )
            assert plain_request in done  # served while the session waits
            # Answered while the server is still paused: the store closed
            # the connection, without waiting for a cancel request.
            response = await session_request
            writes = [await browser.fork().get("/set?key=x&value=y", cookie="") for _ in range(5)]
    finally:
        own_postgres.signal(signal.SIGCONT)
    for answer in (response, *writes):
        assert answer.code == 503
        assert answer.headers["Retry-After"]
        assert answer.set_cookies == {}
    ours = tornsess_records(caplog)
    assert len(ours) == 1 and ours[0].levelno == logging.ERROR and ours[0].exc_info is None
    assert not [r for r in caplog.records if "cancel" in r.getMessage()]
    for _ in range(250):
        recovered = await browser.get("/get")
        if recovered.code == 200:
            break
        await asyncio.sleep(0.02)
    assert recovered.code == 200 and recovered.json()["id"] == sid
    await db.close()


@pytest.mark.gen_test(timeout=120)
async def test_a_stopped_server_gives_503_and_a_restart_needs_no_app_restart(
    serve: Callable[..., Browser], own_postgres: OwnPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    db = PostgreSQLDatabase(own_postgres.dsn, timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    with caplog.at_level(logging.INFO, logger="tornsess"):
        own_postgres.stop("immediate")  # as if it crashed
        answers = [await browser.get("/get")]
        answers += [await browser.fork().get("/set?key=x&value=y", cookie="") for _ in range(10)]
        for answer in answers:
            assert answer.code == 503
            assert answer.headers["Retry-After"]
            assert answer.set_cookies == {}
        own_postgres.start()
        for _ in range(1000):  # the pool reconnects by itself, with backoff
            back = await browser.get("/get")
            if back.code == 200:
                break
            await asyncio.sleep(0.05)
    assert back.code == 200
    assert back.json()["id"] == sid and back.json()["values"] == {"a": "b"}
    assert (await browser.get("/incr?key=n")).json()["value"] == 1
    # The log: the outage once, then at most a line per 10 s, and the recovery.
    ours = tornsess_records(caplog)
    assert ours[0].levelno == logging.ERROR and "unavailable" in ours[0].getMessage()
    assert "answers again" in ours[-1].getMessage()
    assert len(ours) <= 2 + len([r for r in ours if "still unavailable" in r.getMessage()])
    assert len([r for r in ours if "still unavailable" in r.getMessage()]) <= 12
    await db.close()


@pytest.mark.gen_test
async def test_a_server_that_is_not_there_at_start(serve: Callable[..., Browser]) -> None:
    db = PostgreSQLDatabase(f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    response = await browser.get("/set?key=a&value=b")
    assert response.code == 503 and response.headers["Retry-After"]
    assert (await browser.get("/nosession")).code == 200
    await db.close()


# -- two processes on one database ---------------------------------------------------


@pytest.fixture
def two_processes(postgresql_dsn: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """Two processes of the test app (tests.serve_app) on one table."""
    options = (f"--table={unique('mp')}", "--timeout=5")
    a = AppProcess(postgresql_dsn, *options)
    try:
        b = AppProcess(postgresql_dsn, *options)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.mark.gen_test(timeout=120)
async def test_increments_spread_over_two_processes_add_up(
    two_processes: tuple[AppProcess, AppProcess],
) -> None:
    a, b = two_processes
    on_a = a.browser()
    await on_a.get("/set?key=owner&value=alice")
    cookie = f"{NAME}={on_a.jar[NAME]}"

    async def client(number: int) -> None:
        targets = [a.browser(), b.browser()]
        for i in range(50):
            response = await targets[(number + i) % 2].get("/incr?key=n", cookie=cookie)
            assert response.code == 200

    await asyncio.gather(*(client(n) for n in range(8)))
    assert (await b.browser().get("/get", cookie=cookie)).json()["values"]["n"] == 400
    assert (await a.browser().get("/get", cookie=cookie)).json()["values"]["n"] == 400


@pytest.mark.gen_test(timeout=120)
async def test_two_processes_share_logins_writes_and_destroys(
    two_processes: tuple[AppProcess, AppProcess],
) -> None:
    a, b = two_processes
    on_a, on_b = a.browser(), b.browser()
    on_b.jar = on_a.jar
    login = (await on_a.get("/login?user=olga")).json()
    assert (await on_b.get("/info")).json()["user"] == "olga"
    # Writes to different keys from both processes at once all survive.
    cookie = f"{NAME}={on_a.jar[NAME]}"
    await asyncio.gather(
        *(
            (a if i % 2 else b).browser().get(f"/set?key=k{i}&value={i}", cookie=cookie)
            for i in range(20)
        )
    )
    values = (await on_a.get("/get")).json()["values"]
    assert {f"k{i}": str(i) for i in range(20)}.items() <= values.items()
    # A destroy on B is not undone by a write on A with the old cookie.
    old = dict(on_a.jar)
    await on_b.get("/destroy")
    stale = Browser(on_a.base_url)
    stale.jar = old
    after = (await stale.get("/set?key=late&value=1")).json()
    assert after["is_new"] is True and after["id"] != login["id"]
    assert (await b.browser().get("/devices?user=olga")).json() == []


async def lock_waiters(admin: psycopg.Connection[Any], count: int) -> None:
    """Until *count* backends wait for a lock (at most 30 s)."""
    for _ in range(600):
        waiting = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()
        if waiting is not None and waiting[0] >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} backend(s) never waited for a lock")


@pytest.mark.gen_test(timeout=60)
async def test_a_revoke_waiting_on_a_renewal_destroys_the_renewed_session(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    # A revoke (destroy_by_handle) that waits for the row a renewal holds
    # must find the session where the renewal moved it, not miss it.
    table = unique()
    renewer = PostgreSQLDatabase(postgresql_dsn, table=table, timeout=20)
    revoker = PostgreSQLDatabase(postgresql_dsn, table=table, timeout=20)
    await renewer.setup()
    old, new = new_id(), new_id()
    binding = Binding("ann", "tag0123456789abc~h", "tag0123456789abc", 1.0)
    assert await renewer.create(
        old, Record({}, frozenset(), {}, 1.0, 1.0, None, None, binding.dumps())
    )
    await renewer.index_add(binding.tag, binding.handle, old, None)
    # An uncommitted alias row for the old key holds the renewal mid-way:
    # the session row is moved and locked, the alias insert waits.
    blocker = await psycopg.AsyncConnection.connect(postgresql_dsn)
    await blocker.execute(
        sql.SQL("INSERT INTO {} (key, target, sealed, expires_at) VALUES (%s, 'x', 'x', 0)").format(
            sql.Identifier(f"{table}_aliases")
        ),
        (store_key(old),),
    )
    renewing = asyncio.ensure_future(renew(renewer, old, new))
    await lock_waiters(admin, 1)
    revoking = asyncio.ensure_future(revoker.index_destroy(binding.tag, binding.handle))
    await lock_waiters(admin, 2)
    await blocker.rollback()
    await blocker.close()
    assert await renewing is True
    assert await revoking == (True, None)
    assert await revoker.load(new) is None
    assert await revoker.index_sessions(binding.tag) == []
    await renewer.close()
    await revoker.close()


@pytest.mark.gen_test(timeout=60)
async def test_a_call_cancelled_in_the_middle_of_a_command_ends_cancelled(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    # Cancelled while PostgreSQL runs its command (here: waiting for a row
    # another connection holds), a call ends cancelled (psycopg cancels the
    # command), and the store goes on: no connection is left busy.
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table, timeout=20)
    sid = new_id()
    assert await db.create(sid, record(n="1"))
    admin.execute("BEGIN")
    admin.execute(
        sql.SQL("SELECT 1 FROM {} WHERE key = %s FOR UPDATE").format(sql.Identifier(table)),
        (store_key(sid),),
    )
    call = asyncio.ensure_future(db.touch(sid, time.time(), None))
    await lock_waiters(admin, 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    admin.execute("COMMIT")
    assert await db.touch(sid, time.time(), None)
    loaded = await db.load(sid)
    assert loaded is not None and loaded.values == {"n": "1"}
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_close_ends_a_sweep_under_way(
    postgresql_dsn: str, admin: psycopg.Connection[Any]
) -> None:
    # A sweep that waits for the table when the store is closed is ended
    # with it: nothing is left pending for the loop's end to destroy (CI
    # once failed on that, "Task was destroyed but it is pending!").
    table = unique()
    db = PostgreSQLDatabase(postgresql_dsn, table=table, sweep_interval=0.05, timeout=20)
    await db.setup()  # the first call starts the periodic sweep
    admin.execute("BEGIN")
    admin.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
    try:
        await lock_waiters(admin, 1)
        await db.close()
        sweeping = [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "PostgreSQLDatabase.sweep"
        ]
        assert sweeping == []
    finally:
        admin.execute("COMMIT")
