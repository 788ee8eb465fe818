"""Redis Cluster as a first-class store: URL forms, start-up detection of a
cluster node behind a plain URL, regenerate across slots, destroy_all on
every master, the key layout, and a master that dies. The conformance suite
(values, flashes, immutables, increments, expiry, regenerate, destroy) runs
against the same real cluster through the ``cluster`` store kind."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from tests.apps import make_app
from tests.helpers import Browser, OwnCluster
from tests.test_redis import every_call
from tornsess import ConfigError, SessionInterrupted, Sessions
from tornsess.database import Op, Record
from tornsess.ids import new_id, seal_successor, store_key
from tornsess.sessiondb import RedisDatabase

COOKIE = "tornsessid"


def test_cluster_url_forms(redis_cluster: OwnCluster) -> None:
    every = RedisDatabase(redis_cluster.url)
    one = RedisDatabase(f"redis+cluster://127.0.0.1:{redis_cluster.ports[1]}")
    flag = RedisDatabase(f"redis://127.0.0.1:{redis_cluster.ports[2]}/0", cluster=True)
    for db in (every, one, flag):
        assert db.cluster is True
        assert isinstance(db.client, RedisCluster)
    with pytest.raises(ConfigError):
        RedisDatabase("redis+cluster://")
    with pytest.raises(ConfigError):
        RedisDatabase("redis+cluster://127.0.0.1:1,not-a-node")


def test_a_cluster_node_behind_a_plain_url_is_refused(redis_cluster: OwnCluster) -> None:
    with pytest.raises(ConfigError) as info:
        RedisDatabase(f"redis://127.0.0.1:{redis_cluster.ports[0]}/0")
    assert info.value.field == "url"
    assert "redis+cluster://" in str(info.value) and "cluster=True" in str(info.value)


def test_a_plain_server_is_not_taken_for_a_cluster(redis_url: str) -> None:
    assert RedisDatabase(redis_url).cluster is False


@pytest.mark.gen_test
async def test_regenerate_maps_the_cluster_client_error_to_the_copy_fallback(
    serve: Callable[..., Browser], redis_cluster: OwnCluster
) -> None:
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", redis_cluster.ports[0])])
    db = RedisDatabase(client=client, prefix="regen:")
    assert db.cluster is True
    # Force the RENAMENX attempt: redis-py's cluster client refuses it itself
    # with RedisClusterException, which must lead to the copy, not a 500.
    db._cross_slot = False
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    old = (await browser.get("/set?key=user&value=alice")).json()["id"]
    response = await browser.get("/regenerate")
    assert response.code == 200
    body = response.json()
    assert body["old"] == old and body["new"] != old
    assert body["values"] == {"user": "alice"}
    assert not await db.exists(old)
    assert await db.exists(body["new"])
    await client.aclose()


@pytest.mark.gen_test
async def test_a_session_lives_in_one_key_and_one_slot(
    serve: Callable[..., Browser], redis_cluster: OwnCluster
) -> None:
    db = RedisDatabase(redis_cluster.url, prefix="slot:")
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.post("/set", {"a": 1, "b": [1, 2]})).json()["id"]
    await browser.post("/flash/set", {"notice": "hi"})
    keys = [key async for key in db.client.scan_iter(match="slot:*")]
    assert keys == [f"slot:{{{store_key(sid)}}}".encode()]
    fields = await db.client.hgetall(keys[0])
    assert {b"v:a", b"v:b", b"f:notice", b"_c", b"_a"} <= set(fields)
    assert db.client.keyslot(keys[0]) == db.client.keyslot(store_key(sid))
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_destroy_all_covers_every_master(redis_cluster: OwnCluster) -> None:
    db = RedisDatabase(redis_cluster.url, prefix="every:")
    record = Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None)
    masters = [aioredis.Redis(host="127.0.0.1", port=port) for port in redis_cluster.ports]

    async def per_master() -> list[int]:
        counts = []
        for master in masters:
            counts.append(len([key async for key in master.scan_iter(match="every:*")]))
        return counts

    for _ in range(60):
        assert await db.create(new_id(), record)
    counts = await per_master()
    assert all(count > 0 for count in counts), counts
    await db.destroy_all()
    assert await per_master() == [0, 0, 0]
    for master in masters:
        await master.aclose()
    await db.close()


@pytest.fixture
def spare_cluster(tmp_path: Path) -> Iterator[OwnCluster]:
    """A cluster of this test alone, since the test kills one of its masters."""
    cluster = OwnCluster(tmp_path)
    yield cluster
    cluster.stop()


@pytest.mark.gen_test(timeout=120)
async def test_a_dead_master_gives_503_and_the_cluster_recovers_without_an_app_restart(
    serve: Callable[..., Browser], spare_cluster: OwnCluster, caplog: pytest.LogCaptureFixture
) -> None:
    db = RedisDatabase(spare_cluster.url, timeout=1.0)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    clients = [browser.fork() for _ in range(8)]
    for n, client in enumerate(clients):
        client.jar.clear()
        assert (await client.get(f"/set?key=n&value={n}")).code == 200
    spare_cluster.kill(1)
    statuses: list[int] = []
    # A session on the dead master fails at once; the others fail once the
    # survivors mark the cluster failed (past the node timeout, later on a
    # loaded machine): ask until one does, within a bound.
    for _ in range(60):
        for client in clients:
            response = await client.get("/incr?key=k")
            statuses.append(response.code)
            assert response.code in (200, 503)
            if response.code == 503:
                assert response.headers["Retry-After"] == "5"
                assert "Set-Cookie" not in response.headers
        if 503 in statuses:
            break
        await asyncio.sleep(0.5)
    assert 503 in statuses
    assert (await browser.get("/nosession")).code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    spare_cluster.start(1)
    spare_cluster.wait_ok()
    results: list[Any] = []
    for _ in range(100):  # the client finds the node again by itself
        results = [await client.get("/get") for client in clients]
        if all(r.code == 200 for r in results):
            break
        await asyncio.sleep(0.2)
    assert [r.code for r in results] == [200] * len(clients)
    # Sessions on the surviving masters kept their data; those on the
    # restarted one (no persistence) are fresh sessions, never a 500.
    kept = [r for r in results if not r.json()["is_new"]]
    assert kept and all(set(r.json()["values"]) >= {"n"} for r in kept)
    await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_many_first_calls_at_once(redis_cluster: OwnCluster) -> None:
    # redis-py's asyncio cluster client fails (AttributeError on a closed
    # writer) when its very first calls run concurrently; the store
    # discovers the topology once before them.
    db = RedisDatabase(redis_cluster.url, prefix="first:")
    record = Record({}, frozenset(), {}, 1.0, 1.0, None, None)

    async def one() -> None:
        sid = new_id()
        assert await db.create(sid, record)
        for _ in range(10):
            assert await db.load(sid) is not None
            await db.commit(sid, [], 2.0, None, None)

    await asyncio.gather(*(one() for _ in range(32)))
    await db.close()


def cluster_connections(cluster: OwnCluster, name: str) -> list[int]:
    """Per master, the connections named *name* (CLIENT SETNAME)."""
    counts = []
    for index in range(len(cluster.ports)):
        listing = cluster.cli(index, "client", "list")
        counts.append(sum(1 for line in listing.splitlines() if f" name={name} " in line))
    return counts


def test_a_cluster_store_on_one_loop_after_another(redis_cluster: OwnCluster) -> None:
    # Each asyncio.run gets a client of its own; the loop's shutdown closes
    # its connections on every master.
    name = f"runs{uuid.uuid4().hex[:8]}"
    db = RedisDatabase(f"{redis_cluster.url}?client_name={name}", prefix=f"{name}:")
    for round in range(3):
        asyncio.run(every_call(db, f"user{round}"))
        deadline = time.monotonic() + 10
        while any(cluster_connections(redis_cluster, name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cluster_connections(redis_cluster, name) == [0, 0, 0]
    asyncio.run(db.close())
    gc.collect()


@pytest.mark.gen_test(timeout=60)
async def test_a_burst_waits_for_the_cluster_nodes_connections(redis_cluster: OwnCluster) -> None:
    # redis-py's cluster nodes raise once max_connections are in use; the
    # store makes a burst wait for a free one instead.
    name = f"burst{uuid.uuid4().hex[:8]}"
    db = RedisDatabase(
        f"{redis_cluster.url}?max_connections=2&client_name={name}", prefix=f"{name}:"
    )
    sids = [new_id() for _ in range(10)]
    for sid in sids:
        assert await db.create(sid, Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None))
    loaded = await asyncio.gather(*(db.load(sids[n % 10]) for n in range(50)))
    assert all(r is not None and r.values == {"a": '"b"'} for r in loaded)
    # Two per node for commands, and on one node the connection that
    # discovered the topology.
    assert max(cluster_connections(redis_cluster, name)) <= 3
    await db.close()


# -- id renewal across slots -----------------------------------------------------------
# A renewal on a cluster copies the session to its new key, then converts
# the old key into the alias if the session did not change in between. The
# test's own client runs something from a second store (another process)
# right before the store's second script call on the old key: the convert.


class Between(RedisCluster):
    """A cluster client that awaits ``between()`` before every second script
    call on ``key`` (the convert that follows each copy), ``times`` times."""

    key = ""
    times = 0
    between: Callable[[], Any] | None = None
    script_calls = 0

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] in ("EVALSHA", "EVAL") and len(args) > 3 and args[3] == self.key:
            self.script_calls += 1
            if self.script_calls % 2 == 0 and self.times > 0 and self.between is not None:
                self.times -= 1
                await self.between()
        return await super().execute_command(*args, **kwargs)


@pytest.fixture
def between(
    redis_cluster: OwnCluster, io_loop: Any
) -> Iterator[tuple[RedisDatabase, Between, RedisDatabase]]:
    """A store on a :class:`Between` client, and a second store on its keys."""
    prefix = f"between{uuid.uuid4().hex[:8]}:"
    client = Between(startup_nodes=[ClusterNode("127.0.0.1", redis_cluster.ports[0])])
    db = RedisDatabase(client=client, prefix=prefix)
    other = RedisDatabase(redis_cluster.url, prefix=prefix)
    yield db, client, other
    io_loop.run_sync(other.close)
    io_loop.run_sync(client.aclose)


async def hashes(db: RedisDatabase) -> list[bytes]:
    """The keys under the store's prefix that hold a session."""
    client: Any = db.client
    return sorted(
        [
            key
            async for key in client.scan_iter(match=f"{db.prefix}*")
            if await client.type(key) == b"hash"
        ]
    )


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("move", ["renew", "rename"])
async def test_a_commit_between_the_copy_and_the_convert_is_not_lost(
    between: tuple[RedisDatabase, Between, RedisDatabase], move: str
) -> None:
    db, client, other = between
    old, new = new_id(), new_id()
    assert await db.create(old, Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None))

    async def commit() -> None:
        await other.commit(old, [Op("set", "late", '"kept"')], 2.0, None, None)

    client.key, client.times, client.between = db.key(old), 1, commit
    now = time.time()
    if move == "renew":
        assert await db.renew(old, new, seal_successor(old, new), now, now + 30) is True
        assert await db.client.type(db.key(old)) == b"string"
    else:
        assert await db.rename(old, new, now) is True
        assert not await db.exists(old)
    assert client.times == 0 and client.script_calls == 4  # copied twice
    moved = await db.load(new)
    assert moved is not None and moved.values == {"a": '"b"', "late": '"kept"'}
    assert await hashes(db) == [db.key(new).encode()]


@pytest.mark.gen_test(timeout=30)
async def test_a_session_that_keeps_changing_is_not_renewed_now(
    between: tuple[RedisDatabase, Between, RedisDatabase],
) -> None:
    db, client, other = between
    old, new = new_id(), new_id()
    assert await db.create(old, Record({}, frozenset(), {}, 1.0, 1.0, None, None))

    async def commit() -> None:
        await other.commit(old, [Op("incr", "n", "1")], 2.0, None, None)

    client.key, client.times, client.between = db.key(old), 100, commit
    now = time.time()
    assert await db.renew(old, new, seal_successor(old, new), now, now + 30) is False
    kept = await db.load(old)
    assert kept is not None and kept.successor is None
    assert kept.values == {"n": str(100 - client.times)}  # every commit kept
    assert 100 - client.times > 1
    assert await hashes(db) == [db.key(old).encode()]  # the copies are gone


@pytest.mark.gen_test(timeout=30)
async def test_a_renewal_or_a_destroy_between_the_copy_and_the_convert(
    between: tuple[RedisDatabase, Between, RedisDatabase],
) -> None:
    db, client, other = between
    # Another process renews the session first: this renewal takes its id.
    old, mine, theirs = new_id(), new_id(), new_id()
    assert await db.create(old, Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None))
    now = time.time()
    sealed = seal_successor(old, theirs)

    async def renew() -> None:
        assert await other.renew(old, theirs, sealed, now, now + 30) is True

    client.key, client.times, client.between = db.key(old), 1, renew
    assert await db.renew(old, mine, seal_successor(old, mine), now, now + 30) == sealed
    assert await hashes(db) == [db.key(theirs).encode()]  # the copy is gone
    # Another process destroys the session: the renewal finds it gone.
    old, mine = new_id(), new_id()
    assert await db.create(old, Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None))

    async def destroy() -> None:
        assert await other.destroy(old)

    client.key, client.times, client.between, client.script_calls = db.key(old), 1, destroy, 0
    with pytest.raises(SessionInterrupted):
        await db.renew(old, mine, seal_successor(old, mine), now, now + 30)
    assert await hashes(db) == [db.key(theirs).encode()]
