"""Store-specific behaviour: Redis key layout, round trips, key hygiene,
outages; SQLite files, WAL, sweeps and restarts."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import pytest
import redis.asyncio as aioredis
from tornado.testing import bind_unused_port

import tornsess
from tests.apps import make_app
from tests.helpers import Browser, OwnRedis, outlive_a_grace_window, race_two_renewals, renew
from tornsess import SessionInterrupted, Sessions, StoreUnavailable
from tornsess.database import Op, Record
from tornsess.errors import SessionMoved
from tornsess.ids import new_id, open_successor, store_key
from tornsess.sessiondb import RedisDatabase, SQLiteDatabase

NAME = tornsess.DEFAULT_COOKIE_NAME


class CountingConnection(aioredis.Connection):
    """redis-py's own connection, counting round trips and recording commands."""

    round_trips = 0
    commands: ClassVar[list[tuple[Any, ...]]] = []

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        await super().send_packed_command(command, check_health)

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        CountingConnection.commands.append(args)
        await super().send_command(*args, **kwargs)

    @classmethod
    def reset(cls) -> None:
        cls.round_trips = 0
        cls.commands = []


@pytest.fixture
def counting_db(redis_url: str, io_loop: Any) -> Iterator[Callable[[str], RedisDatabase]]:
    """``counting_db(prefix)``: a RedisDatabase whose client counts round trips."""
    clients: list[aioredis.Redis] = []

    def make(prefix: str) -> RedisDatabase:
        pool = aioredis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
        client = aioredis.Redis(connection_pool=pool)
        clients.append(client)
        return RedisDatabase(client=client, prefix=prefix)

    yield make
    for client in clients:
        io_loop.run_sync(client.aclose)
        io_loop.run_sync(client.connection_pool.disconnect)


@pytest.fixture
def plain_redis(redis_url: str, io_loop: Any) -> Iterator[aioredis.Redis]:
    """A redis-py client on the test Redis (decoded responses), for looking."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    io_loop.run_sync(client.aclose)


@pytest.mark.gen_test
async def test_redis_round_trips_per_request(
    serve: Callable[..., Browser], counting_db: Callable[[str], RedisDatabase]
) -> None:
    db = counting_db("rt:")
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/set?key=a&value=b")
    await browser.get("/incr?key=n")  # loads the scripts once
    CountingConnection.reset()
    assert (await browser.get("/get")).json()["values"] == {"a": "b", "n": 1}
    assert CountingConnection.round_trips == 1
    CountingConnection.reset()
    assert (await browser.get("/incr?key=n")).json()["value"] == 2
    assert CountingConnection.round_trips == 2
    CountingConnection.reset()
    assert (await browser.get("/nosession")).code == 200
    assert (await browser.get("/get", cookie=f"{NAME}=garbage*")).code == 200
    assert CountingConnection.round_trips == 0


@pytest.mark.gen_test
async def test_redis_key_layout_ttl_and_no_raw_ids(
    serve: Callable[..., Browser], redis_url: str, plain_redis: aioredis.Redis
) -> None:
    db = RedisDatabase(redis_url, prefix="layout:")
    manager = Sessions(expires=600)
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/incr?key=n&n=5")).json()["id"]
    client = plain_redis
    keys = [k async for k in client.scan_iter(match="layout:*")]
    assert keys == [f"layout:{{{store_key(sid)}}}"]
    fields = await client.hgetall(keys[0])
    assert fields["v:n"] == "5"  # an int stays an int
    assert all(sid not in k and sid not in v for k, v in fields.items())
    assert 590_000 < await client.pttl(keys[0]) <= 600_000
    forever = Sessions()
    forever.use_database(db)
    browser2 = serve(make_app(forever))
    sid2 = (await browser2.get("/set?key=a&value=b")).json()["id"]
    ttl = await client.ttl(f"layout:{{{store_key(sid2)}}}")
    assert tornsess.BROWSER_MAX_AGE - 60 < ttl <= tornsess.BROWSER_MAX_AGE
    await db.close()


@pytest.mark.gen_test
async def test_redis_idle_refresh_only_moves_the_expiry(
    serve: Callable[..., Browser],
    counting_db: Callable[[str], RedisDatabase],
    plain_redis: aioredis.Redis,
) -> None:
    db = counting_db("idle:")
    manager = Sessions(idle_timeout=1.0)
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    client = plain_redis
    key = f"idle:{{{store_key(sid)}}}"
    await asyncio.sleep(0.15)
    await browser.get("/get")  # the first touch loads its script
    before = await client.pttl(key)
    await asyncio.sleep(0.15)
    CountingConnection.reset()
    assert (await browser.get("/get")).json()["id"] == sid
    assert CountingConnection.round_trips == 2  # load, then the touch script
    names = [str(c[0]).upper() for c in CountingConnection.commands]
    assert names == ["HGETALL", "EVALSHA"]
    assert await client.pttl(key) > before - 100
    assert (await client.hgetall(key))["v:a"] == '"b"'


@pytest.mark.gen_test
async def test_bad_ids_never_reach_redis(
    serve: Callable[..., Browser], counting_db: Callable[[str], RedisDatabase]
) -> None:
    db = counting_db("hygiene:")
    manager = Sessions()
    manager.use_database(db)
    await db.exists("warm-up")
    CountingConnection.reset()
    record = Record({}, frozenset(), {}, 0.0, 0.0, None, None)
    for bad in ["*", "?", "[a-z]", "a\r\nFLUSHALL", "x y", "", "é", "a" * 129, "\\"]:
        assert await db.load(bad) is None
        assert await db.exists(bad) is False
        assert await db.destroy(bad) is False
        assert await db.touch(bad, 0.0, None) is False
        assert await db.create(bad, record) is False
        with pytest.raises(SessionInterrupted):
            await db.commit(bad, [], 0.0, None, None)
        with pytest.raises(SessionInterrupted):
            await db.rename(bad, "fine")
        assert await manager.destroy_by_id(bad) is False
    browser = serve(make_app(manager))
    for bad in ["*", "[abc]", "%0d%0aFLUSHALL"]:
        assert (await browser.get("/get", cookie=f"{NAME}={bad}")).json()["is_new"] is True
    assert CountingConnection.round_trips == 0
    assert CountingConnection.commands == []


@pytest.mark.gen_test
async def test_destroy_all_scans_only_its_escaped_prefix(
    redis_url: str, counting_db: Callable[[str], RedisDatabase]
) -> None:
    globbed = counting_db("g*[x]?:")
    neighbour = RedisDatabase(redis_url, prefix="gA[x]B:")
    record = Record({"a": "1"}, frozenset(), {}, 0.0, 0.0, None, None)
    mine = [new_id() for _ in range(700)]
    for sid in mine:
        assert await globbed.create(sid, record)
    other = new_id()
    assert await neighbour.create(other, record)
    CountingConnection.reset()
    assert await globbed.destroy_all() == []
    names = {str(c[0]).upper() for c in CountingConnection.commands}
    assert "KEYS" not in names
    assert "SCAN" in names
    assert not any([await globbed.exists(sid) for sid in mine[:20]])
    assert await neighbour.exists(other)
    await neighbour.close()


@pytest.mark.gen_test
async def test_corrupt_or_pickled_values_are_never_executed(
    serve: Callable[..., Browser], redis_url: str, tmp_path: Path, plain_redis: aioredis.Redis
) -> None:
    db = RedisDatabase(redis_url, prefix="corrupt:")
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> Any:
            return (os.system, (f"touch {sentinel}",))

    raw = aioredis.Redis(connection_pool=plain_redis.connection_pool)
    await raw.hset(f"corrupt:{{{store_key(sid)}}}", "v:evil", pickle.dumps(Payload()))
    response = await browser.get("/get")
    assert response.code == 200
    assert response.json()["values"] == {"a": "b"}
    assert not sentinel.exists()
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_paused_redis_fails_fast_and_recovers(
    serve: Callable[..., Browser], own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    db = RedisDatabase(own_redis.url, timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    own_redis.signal(signal.SIGSTOP)
    try:
        with caplog.at_level(logging.ERROR, logger="tornsess"):
            session_request = asyncio.ensure_future(browser.get("/get"))
            plain_request = asyncio.ensure_future(browser.get("/nosession"))
            done, _ = await asyncio.wait(
                [session_request, plain_request], return_when=asyncio.FIRST_COMPLETED
            )
            assert plain_request in done  # served while the session waits on Redis
            response = await session_request
        assert response.code == 503
        assert response.headers["Retry-After"]
        assert response.set_cookies == {}
        ours = [r for r in caplog.records if r.name == "tornsess"]
        assert len(ours) == 1
        assert ours[0].exc_info is None
    finally:
        own_redis.signal(signal.SIGCONT)
    recovered = await browser.get("/get")
    assert recovered.code == 200
    assert recovered.json()["id"] == sid
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_dead_redis_gives_503_and_requests_succeed_once_it_is_back(
    serve: Callable[..., Browser], own_redis: OwnRedis
) -> None:
    db = RedisDatabase(own_redis.url, timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/set?key=a&value=b")
    own_redis.kill()
    down_read = await browser.get("/get")
    down_write = await browser.fork().get("/set?key=x&value=y", cookie="")
    for response in (down_read, down_write):
        assert response.code == 503
        assert response.headers["Retry-After"]
        assert response.set_cookies == {}
    own_redis.start()
    back = await browser.get("/set?key=c&value=d")
    assert back.code == 200
    assert back.json()["is_new"] is True  # the server kept nothing on disk
    assert (await browser.get("/get")).json()["values"] == {"c": "d"}
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_connections_redis_closed_and_a_script_flush_are_survived(
    serve: Callable[..., Browser], own_redis: OwnRedis
) -> None:
    import redis as sync_redis

    db = RedisDatabase(own_redis.url, timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    await asyncio.gather(*(browser.fork().get("/set?key=a&value=b", cookie="") for _ in range(4)))
    idle, _ = db.client.connection_pool.get_connection_count()
    assert idle[0] >= 2  # several connections, now idle
    await browser.get("/incr?key=n")
    admin = sync_redis.Redis.from_url(own_redis.url)
    try:
        # Redis closes every other client (as its idle `timeout` would) and
        # forgets the Lua scripts: neither a read nor a write may fail.
        admin.client_kill_filter(_type="normal", skipme=True)
        admin.script_flush()
        await asyncio.sleep(0.05)  # the closed connections' EOF arrives
        for expected in (2, 3, 4):
            response = await browser.get("/incr?key=n")
            assert response.code == 200
            assert response.json()["value"] == expected
        assert (await browser.get("/get")).json()["values"]["n"] == 4
    finally:
        admin.close()
    await db.close()


def test_the_urls_database_is_used(own_redis: OwnRedis) -> None:
    import redis as sync_redis

    url = own_redis.url.rsplit("/", 1)[0] + "/3"
    db = RedisDatabase(url, timeout=0.5)
    sid = new_id()
    record = Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None)

    async def run() -> Record | None:
        assert await db.create(sid, record)
        loaded = await db.load(sid)
        await db.close()
        return loaded

    loaded = asyncio.run(run())
    assert loaded is not None and loaded.values == {"a": '"b"'}
    admin = sync_redis.Redis.from_url(url)
    other = sync_redis.Redis.from_url(own_redis.url.rsplit("/", 1)[0] + "/0")
    try:
        assert admin.exists(db.key(sid)) == 1
        assert other.exists(db.key(sid)) == 0
    finally:
        admin.close()
        other.close()


def test_a_new_event_loop_keeps_the_timeout(own_redis: OwnRedis) -> None:
    # A store used under one event loop and then another (tests, a restarted
    # loop) neither uses the old loop's connections nor loses its timeout.
    db = RedisDatabase(own_redis.url, timeout=0.5)
    record = Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None)
    sid = new_id()

    async def first_loop() -> None:
        assert await db.create(sid, record)

    asyncio.run(first_loop())

    async def load_while_paused() -> None:
        assert await db.load(sid) is not None  # a connection of this loop, now idle
        own_redis.signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable):
                # A hang (no timeout) would end in TimeoutError instead.
                await asyncio.wait_for(db.load(sid), 30)
        finally:
            own_redis.signal(signal.SIGCONT)
        loaded = await db.load(sid)
        assert loaded is not None and loaded.values == {"a": '"b"'}
        await db.close()

    asyncio.run(load_while_paused())


@pytest.mark.gen_test
async def test_unreachable_redis_at_start(serve: Callable[..., Browser]) -> None:
    sock, port = bind_unused_port()
    sock.close()
    db = RedisDatabase(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    response = await browser.get("/set?key=a&value=b")
    assert response.code == 503
    assert (await browser.get("/nosession")).code == 200
    await db.close()


def test_redis_database_arguments() -> None:
    with pytest.raises(tornsess.ConfigError):
        RedisDatabase()
    with pytest.raises(tornsess.ConfigError):
        RedisDatabase("redis://localhost", client=aioredis.Redis())
    with pytest.raises(tornsess.ConfigError):
        RedisDatabase("redis://localhost", timeout=0)
    with pytest.raises(tornsess.ConfigError):
        RedisDatabase("nonsense://x")


@pytest.mark.gen_test
async def test_sqlite_file_wal_and_hashed_keys(tmp_path: Path) -> None:
    """By default a copy of the file gives out no live session: rows keyed by
    the hash only, and a new file readable by its owner alone."""
    path = str(tmp_path / "s.db")
    db = SQLiteDatabase(path)
    sid = new_id()
    assert await db.create(sid, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, None))
    await db.close()
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = conn.execute("SELECT key, sid FROM tornsess_sessions").fetchall()
    assert rows == [(store_key(sid), None)]
    plan = " ".join(
        str(row)
        for row in conn.execute(
            "EXPLAIN QUERY PLAN DELETE FROM tornsess_sessions "
            "WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (time.time(),),
        )
    )
    assert "tornsess_sessions_expiry" in plan  # the sweep visits expired rows only
    conn.close()
    reopened = SQLiteDatabase(path)
    record = await reopened.load(sid)
    assert record is not None and record.values == {"a": "1"}
    await reopened.close()


@pytest.mark.gen_test(timeout=30)
async def test_sqlite_sweep_reports_expired_sessions(
    serve: Callable[..., Browser], tmp_path: Path
) -> None:
    db = SQLiteDatabase(str(tmp_path / "sweep.db"), sweep_interval=0.1, keep_ids=True)
    manager = Sessions(expires=0.3)
    manager.use_database(db)
    destroyed: list[str] = []
    manager.on_destroy(destroyed.append)
    browser = serve(make_app(manager))
    ids = [(await browser.fork().get("/set?key=a&value=b")).json()["id"] for _ in range(3)]
    for _ in range(250):
        if len(destroyed) == 3:
            break
        await asyncio.sleep(0.02)
    assert sorted(destroyed) == sorted(ids)
    await db.close()


@pytest.mark.gen_test
async def test_redis_regenerate_by_copy_as_under_cluster(
    serve: Callable[..., Browser], redis_url: str, plain_redis: aioredis.Redis
) -> None:
    db = RedisDatabase(redis_url, prefix="cluster:")
    db._cross_slot = True  # what a CROSSSLOT answer to RENAMENX switches on
    manager = Sessions(expires=600)
    manager.use_database(db)
    browser = serve(make_app(manager))
    old = (await browser.get("/set?key=user&value=alice")).json()["id"]
    body = (await browser.get("/regenerate")).json()
    assert body["old"] == old and body["new"] != old
    assert body["values"] == {"user": "alice"}
    assert not await plain_redis.exists(f"cluster:{{{store_key(old)}}}")
    new_key = f"cluster:{{{store_key(body['new'])}}}"
    assert (await plain_redis.hgetall(new_key))["v:user"] == '"alice"'
    assert 590_000 < await plain_redis.pttl(new_key) <= 600_000
    assert (await browser.get("/get")).json()["values"] == {"user": "alice"}
    with pytest.raises(SessionInterrupted):
        await db.rename(old, new_id())
    await db.close()


# -- SQLite: id renewal ------------------------------------------------------------------


SQLITE_TABLES = {
    "tornsess_sessions": "SELECT * FROM tornsess_sessions",
    "tornsess_users": "SELECT * FROM tornsess_users",
    "tornsess_aliases": "SELECT * FROM tornsess_aliases",
}


def sqlite_tables(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the file (which has no others)."""
    with closing(sqlite3.connect(path)) as conn:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert names == set(SQLITE_TABLES)
        return {name: conn.execute(query).fetchall() for name, query in SQLITE_TABLES.items()}


@pytest.mark.gen_test
@pytest.mark.parametrize("keep_ids", [False, True])
async def test_sqlite_renewal_moves_the_row_and_its_entry_and_keeps_no_old_id(
    tmp_path: Path, keep_ids: bool
) -> None:
    path = str(tmp_path / "renew.db")
    db = SQLiteDatabase(path, keep_ids=keep_ids)
    old, new = new_id(), new_id()
    created = time.time() - 100
    stored = Record({"a": '"b"'}, frozenset({"a"}), {"f": "1"}, created, created, None, None)
    assert await db.create(old, stored)
    await db.index_add("tag", "tag~one", old, None)
    before = time.time()
    assert await renew(db, old, new) is True
    tables = sqlite_tables(path)
    assert old not in repr(tables)
    ((key, sid),) = [row[:2] for row in tables["tornsess_sessions"]]
    assert key == store_key(new) and sid == (new if keep_ids else None)
    if not keep_ids:
        assert new not in repr(tables)
    ((alias_key, target, sealed, until),) = tables["tornsess_aliases"]
    assert (alias_key, target) == (store_key(old), store_key(new))
    assert open_successor(old, sealed) == new and before + 29 < until <= time.time() + 30
    assert [row[2] for row in tables["tornsess_users"]] == [store_key(new)]
    renewed = await db.load(new)
    assert renewed is not None and renewed.successor is None
    assert renewed.values == {"a": '"b"'} and renewed.immutable == {"a"}
    assert renewed.flashes == {"f": "1"} and renewed.created == created
    assert before <= renewed.issued <= time.time()
    through = await db.load(old)
    assert through is not None and through.successor == sealed
    assert through.values == renewed.values and through.issued == renewed.issued
    # A commit keeps when the id was issued.
    await db.commit(new, [Op("set", "c", "1")], time.time(), None, None)
    committed = await db.load(new)
    assert committed is not None and committed.issued == renewed.issued
    # The index reads and destroys the renewed session.
    ((handle, indexed),) = await db.index_sessions("tag")
    assert handle == "tag~one" and indexed.values == {"a": '"b"', "c": "1"}
    assert await db.index_destroy("tag", "tag~one") == (True, new if keep_ids else None)
    assert await db.load(new) is None and await db.load(old) is None
    await db.close()


@pytest.mark.gen_test
async def test_sqlite_calls_on_an_old_id_write_nothing_and_say_where_it_went(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "moved.db")
    db = SQLiteDatabase(path)
    old, new, other = new_id(), new_id(), new_id()
    assert await db.create(old, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, None))
    assert await renew(db, old, new) is True
    before = sqlite_tables(path)
    for call in (
        db.commit(old, [Op("set", "a", "2")], 5.0, None, None),
        db.touch(old, 5.0, None),
        db.rename(old, other),
        db.destroy(old),
    ):
        with pytest.raises(SessionMoved) as info:
            await call
        assert open_successor(old, info.value.successor) == new
    assert sqlite_tables(path) == before  # nothing written
    assert await db.exists(old) and await db.exists(new) and not await db.exists(other)
    # The old id is taken: no new session there, no session moved onto it.
    assert not await db.create(old, Record({}, frozenset(), {}, 1.0, 1.0, None, None))
    assert await db.create(other, Record({}, frozenset(), {}, 1.0, 1.0, None, None))
    assert await db.rename(other, old) is False
    assert await renew(db, other, old) is False
    again = await renew(db, old, new_id())
    assert isinstance(again, str) and open_successor(old, again) == new
    with pytest.raises(SessionInterrupted):
        await renew(db, new_id(), new_id())
    # A rename kills the old id at once: no alias of its own.
    renamed = new_id()
    assert await db.rename(new, renamed) is True
    assert len(sqlite_tables(path)["tornsess_aliases"]) == 1
    assert await db.load(new) is None and await db.load(old) is None
    await db.destroy_all()
    assert sqlite_tables(path)["tornsess_aliases"] == [] and not await db.exists(old)
    await db.close()


@pytest.mark.gen_test(timeout=30)
async def test_sqlite_an_old_id_is_unknown_after_its_grace_window(tmp_path: Path) -> None:
    path = str(tmp_path / "grace.db")
    db = SQLiteDatabase(path)
    _, new = await outlive_a_grace_window(db)
    assert len(sqlite_tables(path)["tornsess_aliases"]) == 1
    await db.sweep()
    assert sqlite_tables(path)["tornsess_aliases"] == []
    assert await renew(db, new, new_id(), grace=-1) is True
    assert sqlite_tables(path)["tornsess_aliases"] == []
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_sqlite_concurrent_renewals_on_two_stores_end_on_one_id(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    first, second = SQLiteDatabase(path), SQLiteDatabase(path)
    for _ in range(5):
        old = new_id()
        assert await first.create(old, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, None))
        await first.index_add("tag", f"tag~{old[:8]}", old, None)
        # Both renewals wait for the write lock a third connection holds,
        # then race for it when it lets go.
        with closing(sqlite3.connect(path, isolation_level=None)) as holder:
            holder.execute("BEGIN IMMEDIATE")
            winner = await race_two_renewals((first, second), old, lambda: holder.execute("COMMIT"))
        tables = sqlite_tables(path)
        assert [row[0] for row in tables["tornsess_sessions"]] == [store_key(winner)]
        assert [row[:2] for row in tables["tornsess_aliases"]] == [
            (store_key(old), store_key(winner))
        ]
        assert [row[2] for row in tables["tornsess_users"]] == [store_key(winner)]
        await first.destroy_all()
    await first.close()
    await second.close()


@pytest.mark.gen_test
async def test_sqlite_rows_of_the_previous_release_count_from_their_creation(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "old.db")
    db = SQLiteDatabase(path)
    sid = new_id()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO tornsess_sessions (key, created, accessed, data) VALUES (?, 5, 6, ?)",
            (store_key(sid), '{"v":{"a":"1"},"i":[],"f":{}}'),
        )
    loaded = await db.load(sid)
    assert loaded is not None and loaded.values == {"a": "1"}
    assert loaded.created == 5 and loaded.issued == 5
    await db.close()
