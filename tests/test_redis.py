"""RedisDatabase on redis-py's public API, against real redis-servers: what
a pooled connection may hold, a stalled server, new event loops and forked
processes, close() during calls, the pool's size, stored data the store
did not write (bytes that are not UTF-8, keys of another type), a call
cancelled while it connects, and what a deployment configures (TLS, an
ACL user, a Unix socket)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port

from tests.apps import make_app
from tests.helpers import Browser, OwnRedis, free_port, require_binary, require_redis_server
from tornsess import Config, SessionInterrupted, Sessions, StoreUnavailable
from tornsess.database import Binding, Op, Record
from tornsess.errors import SessionMoved
from tornsess.ids import new_handle, new_id, open_successor, seal_successor, store_key, user_tag
from tornsess.sessiondb import RedisDatabase

ROOT = Path(__file__).resolve().parent.parent


def record(**values: str) -> Record:
    """A stored session holding *values* (codec text)."""
    return Record(values, frozenset(), {}, 1.0, 1.0, None, None)


def with_query(url: str, query: str) -> str:
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    """A synchronous client on the test Redis, for looking from outside."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def named_connections(admin: redis.Redis, name: str) -> int:
    """How many connections the server has with CLIENT SETNAME *name*."""
    return sum(1 for c in admin.client_list() if c.get("name") == name)


def connections_received(admin: redis.Redis) -> int:
    return int(admin.info("stats")["total_connections_received"])


def calls(admin: redis.Redis, command: str) -> int:
    """How many times the server has run *command* (INFO commandstats)."""
    stats = admin.info("commandstats").get(f"cmdstat_{command}", {})
    return int(stats.get("calls", 0))


def settle(read: Callable[[], int], expected: int) -> int:
    """*read()* once it equals *expected*, or its last value after 10 s
    (a connection the client closed leaves the server's list a moment
    later)."""
    deadline = time.monotonic() + 10
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        value = read()
    return value


async def asettle(read: Callable[[], int], expected: int) -> int:
    """:func:`settle` for a running event loop (which keeps running)."""
    deadline = time.monotonic() + 10
    value = read()
    while value != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        value = read()
    return value


def wait_for_port(port: int) -> None:
    """Return once something accepts connections on *port* (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def store_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tornsess" and r.levelno == level]


# -- what a pooled connection holds ---------------------------------------------


@pytest.mark.gen_test
@pytest.mark.parametrize("query", ["", "protocol=2", "protocol=3"])
async def test_a_pooled_connection_with_an_unread_reply_is_never_reused(
    redis_url: str, admin: redis.Redis, query: str
) -> None:
    # (redis-py 8 speaks RESP3 unless told otherwise.)
    db = RedisDatabase(with_query(redis_url, query), prefix=unique("stray") + ":")
    alice, bob = new_id(), new_id()
    assert await db.create(alice, record(owner='"alice"'))
    assert await db.create(bob, record(owner='"bob"'))
    pool = db.client.connection_pool
    # The store's only connection, taken through the public pool API: a
    # command for bob's key is sent and its reply left unread, as a
    # cancelled caller could leave it, and the connection goes back.
    conn = await pool.get_connection()
    await conn.send_command("HGETALL", db.key(bob))
    for _ in range(500):
        if await conn.can_read():
            break
        await asyncio.sleep(0.01)
    assert await conn.can_read()  # bob's reply waits in the connection
    await pool.release(conn)
    opened = connections_received(admin)
    loaded = await db.load(alice)
    assert loaded is not None and loaded.values == {"owner": '"alice"'}
    assert connections_received(admin) == opened + 1  # a new socket, not the dirty one
    loaded = await db.load(bob)
    assert loaded is not None and loaded.values == {"owner": '"bob"'}
    await db.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_health_check_answered_without_pong_drops_the_connection(
    redis_url: str, admin: redis.Redis
) -> None:
    # Under RESP2, a pooled connection left subscribed (a user of the same
    # pool ran SUBSCRIBE on it) answers PING with ["pong", ""], not PONG,
    # and every other command with an error. The health check redis-py
    # runs on a connection idle for longer than ?health_check_interval=
    # drops it.
    name = unique("health")
    url = with_query(redis_url, f"protocol=2&health_check_interval=1&client_name={name}")
    db = RedisDatabase(url, prefix=unique("health") + ":")
    sid = new_id()
    assert await db.create(sid, record(a='"b"'))
    pool = db.client.connection_pool
    conn = await pool.get_connection()
    await conn.send_command("SUBSCRIBE", unique("channel"))
    assert (await conn.read_response())[0] in (b"subscribe", "subscribe")
    await pool.release(conn)
    assert [c["sub"] for c in admin.client_list() if c.get("name") == name] == ["1"]
    await asyncio.sleep(1.1)  # the connection idles past the interval
    with pytest.raises(StoreUnavailable) as info:
        await db.load(sid)  # the check fails; no retry, so this call fails
    assert "PING" in str(info.value)
    loaded = await db.load(sid)  # on a new connection
    assert loaded is not None and loaded.values == {"a": '"b"'}
    assert [c["sub"] for c in admin.client_list() if c.get("name") == name] == ["0"]
    await db.close()


# -- a stalled Redis --------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("stall", ["sigstop", "pause-writes"])
async def test_a_stalled_redis_costs_a_request_one_attempt(
    serve: Callable[..., Browser], own_redis: OwnRedis, stall: str
) -> None:
    # The socket timeout (0.2 s) is well inside the store's timeout (5 s),
    # and the URL even asks redis-py to retry on timeouts: a retry would
    # reconnect and send the command again within the store's timeout.
    url = with_query(own_redis.url, "socket_timeout=0.2&retry_on_timeout=true")
    db = RedisDatabase(url, timeout=5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/incr?key=n")).json()["id"]
    assert (await browser.get("/incr?key=n")).json()["value"] == 2
    # SIGSTOP stalls the request's load (HGETALL); CLIENT PAUSE WRITE lets
    # the load through and stalls its commit (the increment's script).
    command = "hgetall" if stall == "sigstop" else "evalsha"
    admin = redis.Redis.from_url(own_redis.url)
    try:
        before = calls(admin, command), connections_received(admin)
        if stall == "sigstop":
            own_redis.signal(signal.SIGSTOP)
        else:
            admin.client_pause(10_000, all=False)
        try:
            response = await browser.get("/incr?key=n")
        finally:
            if stall == "sigstop":
                own_redis.signal(signal.SIGCONT)
            else:
                admin.client_unpause()
        assert response.code == 503
        assert response.headers["Retry-After"]
        # No second connection for it: a retry reconnects first. The server,
        # running again, has seen the command once (SIGSTOP); a paused
        # command of a connection closed meanwhile is dropped (PAUSE).
        assert connections_received(admin) - before[1] == 0
        if stall == "sigstop":
            assert await asettle(lambda: calls(admin, command) - before[0], 1) == 1
        else:
            assert calls(admin, command) - before[0] <= 1
    finally:
        admin.close()
    after = (await browser.get("/get")).json()
    assert after["id"] == sid
    assert after["values"]["n"] in (2, 3)  # the failed increment: at most once
    await db.close()


# -- new event loops and processes ------------------------------------------------


async def every_call(db: RedisDatabase, tag: str) -> None:
    """Every method of the store once, checking what each answers."""
    sid, other = new_id(), new_id()
    assert await db.create(sid, record(n="1"))
    loaded = await db.load(sid)
    assert loaded is not None and loaded.values == {"n": "1"}
    await db.commit(sid, [], 5.0, None, None)
    assert await db.touch(sid, 6.0, None)
    assert await db.rename(sid, other)
    assert not await db.exists(sid)
    assert await db.exists(other)
    await db.index_add(tag, "h1", other, None)
    assert [handle for handle, _ in await db.index_sessions(tag)] == ["h1"]
    assert await db.index_destroy(tag, "h1") == (True, None)
    await db.index_remove(tag, "h1")
    assert await db.index_sessions(tag) == []
    assert await db.create(sid, record(n="2"))
    assert await db.destroy(sid)
    assert await db.create(sid, record(n="3"))
    assert await db.destroy_all() == []
    assert await db.load(sid) is None


def test_asyncio_run_per_call_closes_each_loops_connections(
    redis_url: str, admin: redis.Redis
) -> None:
    name = unique("runs")
    db = RedisDatabase(with_query(redis_url, f"client_name={name}"), prefix=unique("runs") + ":")
    for round in range(4):
        asyncio.run(every_call(db, f"user{round}"))
        # asyncio.run shut the loop down: its connections are closed.
        assert settle(lambda: named_connections(admin, name), 0) == 0
    asyncio.run(db.close())
    gc.collect()  # (a leaked socket would warn here, and warnings fail tests)


def test_an_injected_client_follows_the_loop(redis_url: str, admin: redis.Redis) -> None:
    name = unique("injected")
    client = aioredis.Redis.from_url(with_query(redis_url, f"client_name={name}"))
    db = RedisDatabase(client=client, prefix=unique("injected") + ":")
    for round in range(3):
        asyncio.run(every_call(db, f"user{round}"))
        assert settle(lambda: named_connections(admin, name), 0) == 0
    asyncio.run(db.close())
    asyncio.run(client.aclose())
    gc.collect()


def test_a_restarted_loop(redis_url: str, admin: redis.Redis) -> None:
    # A loop closed as asyncio.Runner closes it (async generators shut
    # down first), then a new one.
    name = unique("restart")
    db = RedisDatabase(with_query(redis_url, f"client_name={name}"), prefix=unique("rs") + ":")
    for round in range(3):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(every_call(db, f"user{round}"))
            assert named_connections(admin, name) >= 1  # kept while the loop lives
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
        assert settle(lambda: named_connections(admin, name), 0) == 0
    gc.collect()


@pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
@pytest.mark.filterwarnings("ignore:loop is closed:ResourceWarning")  # Python 3.13's wording
def test_a_loop_closed_without_shutdown_leaves_nothing_reused(
    redis_url: str, admin: redis.Redis
) -> None:
    # Tornado's IOLoop.close() closes the asyncio loop without shutting its
    # async generators down: the store cannot close that loop's sockets
    # through any public API any more (asyncio warns about them, ignored
    # here). Calls on the next loop open connections of their own.
    name = unique("tornado")
    db = RedisDatabase(with_query(redis_url, f"client_name={name}"), prefix=unique("io") + ":")
    sid = new_id()
    first = IOLoop(make_current=False)
    try:
        assert first.run_sync(lambda: db.create(sid, record(n="1")))
    finally:
        first.close()
    opened = connections_received(admin)
    second = IOLoop(make_current=False)
    try:
        loaded = second.run_sync(lambda: db.load(sid))
        assert loaded is not None and loaded.values == {"n": "1"}
        assert connections_received(admin) == opened + 1
        second.run_sync(db.close)
    finally:
        second.close()
    gc.collect()  # the first loop's socket, forgotten, is closed by asyncio
    assert settle(lambda: named_connections(admin, name), 0) == 0


def test_requests_served_by_one_loop_after_another(redis_url: str) -> None:
    # The whole request path through Tornado, on a new event loop each time,
    # whose first request is a login (a regenerate, then the user's index):
    # every request answers, and every login is complete.
    db = RedisDatabase(redis_url, prefix=unique("http") + ":")
    manager = Sessions()
    manager.use_database(db)
    jar: dict[str, str] = {}
    handles: list[str] = []

    async def serve_some(round: int) -> None:
        server = HTTPServer(make_app(manager))
        sock, port = bind_unused_port()
        server.add_sockets([sock])
        device = Browser(f"http://127.0.0.1:{port}")
        browser = Browser(device.base_url)
        browser.jar = jar
        try:
            login = await device.get("/login?user=alice")
            assert login.code == 200
            handles.append(login.json()["handle"])
            listed = (await device.get("/devices")).json()
            assert sorted(d["handle"] for d in listed) == sorted(handles)
            assert (await browser.get("/incr?key=n")).json()["value"] == round + 1
            regenerated = await browser.get("/regenerate")
            assert regenerated.code == 200
            assert regenerated.json()["values"]["n"] == round + 1
            assert (await browser.get("/get")).json()["values"]["n"] == round + 1
        finally:
            server.stop()
            await server.close_all_connections()

    for round in range(3):
        asyncio.run(serve_some(round))
    asyncio.run(db.close())
    gc.collect()


FORKED = """
import asyncio, os, sys
import redis.asyncio as aioredis
import tornado.process
from tornsess.database import Binding, Op, Record
from tornsess.errors import SessionMoved
from tornsess.ids import new_handle, new_id, open_successor, seal_successor, store_key, user_tag
from tornsess.sessiondb import RedisDatabase

url, prefix, kind, children_loop = sys.argv[1:5]
db = (RedisDatabase(client=aioredis.Redis.from_url(url), prefix=prefix)
      if kind == "injected" else RedisDatabase(url, prefix=prefix))

def owned_by(owner):
    return Record({"owner": '"' + owner + '"'}, frozenset(), {}, 1.0, 1.0, None, None)

# The start-up check, on a loop left open: its connections, inherited by the
# children, must not be used by them.
startup = asyncio.new_event_loop()
first = new_id()

async def check():
    assert await db.create(first, owned_by("parent"))
    assert (await db.load(first)).values == {"owner": '"parent"'}
    return 0 if kind == "cluster" else await db.client.client_id()

print("parent", startup.run_until_complete(check()), flush=True)
task = tornado.process.fork_processes(2, max_restarts=0)

async def child():
    me = "child%d" % task
    mine = [new_id() for _ in range(20)]
    assert all(await asyncio.gather(*(db.create(sid, owned_by(me)) for sid in mine)))
    for _ in range(10):
        found = await asyncio.gather(*(db.load(sid) for sid in mine), db.load(first))
        assert [r.values for r in found[:-1]] == [{"owner": '"' + me + '"'}] * 20, found
        assert found[-1].values == {"owner": '"parent"'}
    seen = 0 if kind == "cluster" else await db.client.client_id()
    await db.close()
    if kind == "injected":
        await db.client.aclose()
    # One write of the whole line: the two children share the pipe, and
    # print() may split a line into several writes that interleave.
    os.write(1, f"{me} {seen}\\n".encode())

if children_loop == "new":
    asyncio.run(child())
else:  # the parent's loop, which a child may go on with (Tornado advises against it)
    startup.run_until_complete(child())
"""


@pytest.mark.parametrize("children_loop", ["new", "inherited"])
@pytest.mark.parametrize("kind", ["url", "injected", "cluster"])
def test_forked_children_open_their_own_connections(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, children_loop: str
) -> None:
    url = request.getfixturevalue("cluster_url" if kind == "cluster" else "redis_url")
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    done = subprocess.run(
        [sys.executable, str(script), url, unique("fork") + ":", kind, children_loop],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    words = [line.split() for line in done.stdout.splitlines()]
    assert all(len(pair) == 2 for pair in words), done.stdout + done.stderr
    lines = dict(words)
    assert set(lines) == {"parent", "child0", "child1"}, done.stdout + done.stderr
    if kind != "cluster":
        # The server-side ids of the connections: three processes, three
        # different connections.
        assert len({lines["parent"], lines["child0"], lines["child1"]}) == 3


# -- close() while calls are in flight ---------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_close_with_calls_in_flight(own_redis: OwnRedis) -> None:
    name = unique("closing")
    url = with_query(own_redis.url, f"max_connections=2&client_name={name}")
    db = RedisDatabase(url, timeout=2)
    sid = new_id()
    assert await db.create(sid, record(a='"b"'))
    await asyncio.gather(db.load(sid), db.load(sid))  # two connections
    pool = db.client.connection_pool
    own_redis.signal(signal.SIGSTOP)
    try:
        # Two calls hold the connections; two more wait for one.
        loads = [asyncio.ensure_future(db.load(sid)) for _ in range(4)]
        for _ in range(500):
            if pool.get_connection_count()[1][0] == 2:
                break
            await asyncio.sleep(0.01)
        assert pool.get_connection_count()[1][0] == 2
        await db.close()
        outcomes = await asyncio.wait_for(asyncio.gather(*loads, return_exceptions=True), 30)
        assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes), outcomes
    finally:
        own_redis.signal(signal.SIGCONT)
    admin = redis.Redis.from_url(own_redis.url)
    try:
        assert await asettle(lambda: named_connections(admin, name), 0) == 0
    finally:
        admin.close()


# -- the pool's size ---------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_max_connections_caps_the_pool_and_a_burst_waits(
    redis_url: str, admin: redis.Redis
) -> None:
    name = unique("burst")
    db = RedisDatabase(with_query(redis_url, f"max_connections=2&client_name={name}"))
    sid = new_id()
    assert await db.create(sid, record(a='"b"'))
    opened = connections_received(admin)
    loaded = await asyncio.gather(*(db.load(sid) for _ in range(50)))
    assert all(r is not None and r.values == {"a": '"b"'} for r in loaded)
    assert connections_received(admin) - opened <= 1  # one more, at most: two in all
    assert named_connections(admin, name) == 2
    await db.close()


# -- stored data this store did not write ---------------------------------------------


CLIENTS = ["url-resp2", "url-resp3", "decoded-resp2", "decoded-resp3"]


def make_store(kind: str, redis_url: str) -> tuple[RedisDatabase, aioredis.Redis | None]:
    """A store on the test Redis: built from a URL, or given a client that
    decodes responses (RESP2 or RESP3); and that client, to close."""
    prefix = unique(kind) + ":"
    protocol = 3 if kind.endswith("resp3") else 2
    if kind.startswith("url"):
        return RedisDatabase(with_query(redis_url, f"protocol={protocol}"), prefix=prefix), None
    client = aioredis.Redis.from_url(redis_url, decode_responses=True, protocol=protocol)
    return RedisDatabase(client=client, prefix=prefix), client


@pytest.fixture
def served(
    kind: str, redis_url: str, serve: Callable[..., Browser], io_loop: IOLoop
) -> Iterator[tuple[RedisDatabase, Browser]]:
    """The test app on a store of the parametrized *kind*, and a browser."""
    db, client = make_store(kind, redis_url)
    manager = Sessions()
    manager.use_database(db)
    yield db, serve(make_app(manager))
    io_loop.run_sync(db.close)
    if client is not None:
        io_loop.run_sync(client.aclose)


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", CLIENTS)
async def test_bytes_that_are_not_utf8_are_left_out_of_a_session(
    served: tuple[RedisDatabase, Browser], admin: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    db, browser = served
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    admin.hset(db.key(sid), mapping={b"v:bad": b"\xff\xfe", b"v:\xff": b'"x"'})
    with caplog.at_level(logging.WARNING, logger="tornsess"):
        response = await browser.get("/get")
        assert response.code == 200
        assert response.json()["values"] == {"a": "b"}
        assert (await browser.get("/incr?key=n")).json()["value"] == 1
    assert len(store_records(caplog, logging.WARNING)) == 2  # one line per load
    assert "not UTF-8" in store_records(caplog, logging.WARNING)[0].getMessage()
    assert not store_records(caplog, logging.ERROR)


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_user_index_with_bytes_that_are_not_utf8(
    served: tuple[RedisDatabase, Browser], admin: redis.Redis
) -> None:
    db, browser = served
    handle = (await browser.get("/login?user=alice")).json()["handle"]
    [tag] = list(admin.scan_iter(match=f"{db.prefix}u:*"))
    admin.hset(tag, b"\xff", b"\xfe")
    devices = await browser.get("/devices")
    assert devices.code == 200
    assert [d["handle"] for d in devices.json()] == [handle]
    assert admin.hkeys(tag) == [handle.encode()]  # the bad entry is pruned


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_session_key_of_another_type_is_a_fresh_session(
    served: tuple[RedisDatabase, Browser], admin: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    db, browser = served
    old = (await browser.get("/set?key=a&value=b")).json()["id"]
    admin.set(db.key(old), b"not a session")
    with caplog.at_level(logging.WARNING, logger="tornsess"):
        response = await browser.get("/set?key=c&value=d")
    assert response.code == 200
    assert response.json()["is_new"] is True
    assert response.json()["id"] != old
    assert len(store_records(caplog, logging.WARNING)) == 1
    assert (await browser.get("/get")).json()["values"] == {"c": "d"}
    # Writes to that key find no session, and leave the key alone.
    with pytest.raises(SessionInterrupted):
        await db.commit(old, [], 2.0, None, None)
    assert await db.touch(old, 2.0, 4_000_000_000.0) is False
    with pytest.raises(SessionInterrupted):
        await db.rename(old, new_id())
    assert admin.get(db.key(old)) == b"not a session"
    assert admin.ttl(db.key(old)) == -1


@pytest.mark.gen_test
async def test_a_user_index_key_of_another_type(
    serve: Callable[..., Browser], redis_url: str, admin: redis.Redis
) -> None:
    db = RedisDatabase(redis_url, prefix=unique("index") + ":")
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    first = (await browser.get("/login?user=alice")).json()["handle"]
    [index] = list(admin.scan_iter(match=f"{db.prefix}u:*"))
    admin.delete(index)
    admin.rpush(index, b"not an index")
    assert (await browser.get("/devices")).json() == []  # nothing listed, no error
    phone = Browser(browser.base_url)
    second = (await phone.get("/login?user=alice")).json()["handle"]  # replaces the key
    assert second != first
    assert [d["handle"] for d in (await phone.get("/devices")).json()] == [second]
    await db.close()


# -- a call cancelled while it connects -------------------------------------------------


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listener never accepts and whose accept queue
    is full: a new connection to it waits in SYN_SENT."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)  # the queue fills
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def cancel_while_connecting(db: RedisDatabase, in_use: Callable[[], int]) -> None:
    task = asyncio.ensure_future(db.load(new_id()))
    for _ in range(500):
        if in_use():
            break
        await asyncio.sleep(0.01)
    assert in_use() == 1  # the call has a connection, which is connecting
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.gen_test(timeout=30)
async def test_a_call_cancelled_during_the_tcp_connect_logs_nothing(
    unanswered_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        db = RedisDatabase(f"redis://127.0.0.1:{unanswered_port}/0", timeout=5)
        pool = db.client.connection_pool
        await cancel_while_connecting(db, lambda: pool.get_connection_count()[1][0])
        await db.close()
        gc.collect()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.gen_test(timeout=30)
async def test_a_call_cancelled_during_the_handshake_logs_nothing(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    db = RedisDatabase(own_redis.url, timeout=5)
    pool = db.client.connection_pool
    own_redis.signal(signal.SIGSTOP)  # connects (the kernel accepts), never answers
    try:
        with caplog.at_level(logging.DEBUG):
            await cancel_while_connecting(db, lambda: pool.get_connection_count()[1][0])
            await db.close()
            gc.collect()
    finally:
        own_redis.signal(signal.SIGCONT)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # and the store still works
    sid = new_id()
    assert await db.create(sid, record(a='"b"'))
    assert await db.load(sid) is not None
    await db.close()


# -- configuration a deployment gives ---------------------------------------------------


@pytest.mark.gen_test
async def test_an_acl_user_and_a_unix_socket(tmp_path: Path) -> None:

    sock = tmp_path / "redis.sock"
    port = free_port()
    config = tmp_path / "redis.conf"
    config.write_text(
        f'port {port}\nbind 127.0.0.1\nunixsocket {sock}\nsave ""\ndir {tmp_path}\n'
        "user default off\nuser app on >s3cret ~* &* +@all\n"
    )
    proc = subprocess.Popen([require_redis_server(), str(config)], stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        for url in (
            f"redis://app:s3cret@127.0.0.1:{port}/2",
            f"unix://app:s3cret@{sock}?db=2",
        ):
            db = RedisDatabase(url, prefix=unique("acl") + ":")
            sid = new_id()
            assert await db.create(sid, record(a='"b"'))
            loaded = await db.load(sid)
            assert loaded is not None and loaded.values == {"a": '"b"'}
            await db.close()
        refused = RedisDatabase(f"redis://app:wrong@127.0.0.1:{port}/2")
        with pytest.raises(StoreUnavailable) as info:
            await refused.load(new_id())
        assert "wrong" not in str(info.value)
        await refused.close()
        admin = redis.Redis(host="127.0.0.1", port=port, username="app", password="s3cret", db=2)
        try:
            assert len(list(admin.scan_iter(match="acl-*"))) == 2
        finally:
            admin.close()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.gen_test(timeout=60)
async def test_tls_and_its_url_options(tmp_path: Path) -> None:

    openssl = require_binary("openssl", "install openssl to run the TLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            *(require_redis_server(), "--port", "0", "--tls-port", str(port)),
            *("--bind", "127.0.0.1", "--tls-cert-file", str(cert), "--tls-key-file", str(key)),
            *("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"),
            *("--save", "", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        for query in (f"ssl_ca_certs={cert}", "ssl_cert_reqs=none"):
            db = RedisDatabase(f"rediss://127.0.0.1:{port}/0?{query}", prefix=unique("tls") + ":")
            sid = new_id()
            assert await db.create(sid, record(a='"b"'))
            loaded = await db.load(sid)
            assert loaded is not None and loaded.values == {"a": '"b"'}
            await db.close()
        # The certificate is checked, as the URL (here: nothing) says.
        unverified = RedisDatabase(f"rediss://127.0.0.1:{port}/0")
        with pytest.raises(StoreUnavailable) as info:
            await unverified.load(new_id())
        assert "certificate" in str(info.value).lower()
        await unverified.close()
        plain = RedisDatabase(f"redis://127.0.0.1:{port}/0", timeout=0.5)
        with pytest.raises(StoreUnavailable):  # no TLS: no answer
            await plain.load(new_id())
        await plain.close()
    finally:
        proc.kill()
        proc.wait()


def test_a_password_never_appears_in_a_message(caplog: pytest.LogCaptureFixture) -> None:
    from tornsess import ConfigError

    with pytest.raises(ConfigError) as info:
        RedisDatabase("redis+cluster://user:hunter2@")
    assert "hunter2" not in str(info.value) and "user:***@" in str(info.value)
    with pytest.raises(ConfigError) as info:
        RedisDatabase("redis://user:hunter2@127.0.0.1:1/0?socket_timeout=soon")
    assert "hunter2" not in str(info.value)
    # A password holding what ends a URL's authority, in a URL redis-py
    # cannot parse (the parser's message quotes a piece of it).
    for odd in ("my/Secret", "my#Secret", "my?Secret"):
        with pytest.raises(ConfigError) as info:
            RedisDatabase(f"redis://:{odd}@127.0.0.1:6379/0")
        assert "Secret" not in str(info.value) and "my" not in str(info.value).split("@")[0]
        assert ":***@" in str(info.value)
    with caplog.at_level(logging.DEBUG, logger="tornsess"):
        RedisDatabase("redis://user:hunter2@127.0.0.1:1/0", timeout=0.2)
    assert caplog.records and not [r for r in caplog.records if "hunter2" in r.getMessage()]


@pytest.mark.gen_test
async def test_a_redis_that_fails_the_start_up_probe_is_a_warning_and_a_503_later(
    redis_url: str, serve: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listening, or a database index out of range: a WARNING at
    start-up (password redacted), and the app keeps starting; its requests
    answer 503 with Retry-After, not a 500."""
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    for url in (
        "redis://user:hunter2@127.0.0.1:1/0",  # nothing listening
        f"redis://:hunter2@127.0.0.1:{port}/999",  # no such database
    ):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tornsess"):
            db = RedisDatabase(url, timeout=0.5)
        (line,) = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert "does not answer at start-up" in line.getMessage()
        assert ":***@" in line.getMessage() and "hunter2" not in line.getMessage()
        manager = Sessions()
        manager.use_database(db)
        browser = serve(make_app(manager))
        response = await browser.get("/set?key=a&value=1")
        assert response.code == 503
        assert response.headers["Retry-After"]
        await db.close()


@pytest.mark.gen_test(timeout=60)
async def test_no_password_in_the_log_of_an_outage_and_its_recovery(
    own_redis: OwnRedis, serve: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> None:
    def require_password() -> None:
        raw = redis.Redis(port=own_redis.port)
        raw.config_set("requirepass", "hunter2")
        raw.close()

    require_password()
    db = RedisDatabase(f"redis://:hunter2@127.0.0.1:{own_redis.port}/0", timeout=0.5)
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    with caplog.at_level(logging.DEBUG):
        assert (await browser.get("/set?key=a&value=1")).code == 200
        own_redis.kill()
        assert (await browser.get("/get")).code == 503  # the outage, logged
        own_redis.start()
        require_password()
        assert (await browser.get("/set?key=b&value=2")).code == 200  # the recovery, logged
    messages = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert any("unavailable" in m for m in messages)
    assert any("answers again" in m for m in messages)
    assert not [m for m in messages if "hunter2" in m]
    await db.close()


# -- id renewal with a grace window (single server and cluster) ----------------------
# The store-independent behaviour is in tests/test_renewal.py; these look at
# what Redis holds, and race renewals against each other and against revokes.

BOTH = pytest.mark.parametrize("store_kind", ["redis", "cluster"])


def logged_in(user: str = "alice", **values: str) -> tuple[Record, Binding]:
    """A stored session holding *values*, logged in as *user*."""
    tag = user_tag(user, b"k")
    bound = Binding(user, new_handle(tag), tag, 1.0)
    return Record(values, frozenset(), {}, 1.0, 1.0, None, None, bound.dumps()), bound


async def renewed(
    db: RedisDatabase, values: dict[str, str], grace: float = 30.0
) -> tuple[str, str, str]:
    """A session holding *values*, renewed: its old id, new id, sealed text."""
    old, new = new_id(), new_id()
    assert await db.create(old, record(**values))
    sealed = seal_successor(old, new)
    now = time.time()
    assert await db.renew(old, new, sealed, now, now + grace) is True
    return old, new, sealed


async def stored(db: RedisDatabase) -> dict[bytes, tuple[str, object]]:
    """Every key under the store's prefix: its type and what it holds."""
    client: Any = db.client
    out: dict[bytes, tuple[str, object]] = {}
    async for key in client.scan_iter(match=f"{db.prefix}*"):
        kind = (await client.type(key)).decode()
        if kind == "hash":
            out[key] = (kind, await client.hgetall(key))
        elif kind == "string":
            out[key] = (kind, await client.get(key))
        else:
            out[key] = (kind, None)
    return out


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_a_renewal_leaves_an_expiring_alias_that_holds_no_id(
    make_db: Callable[..., Any],
) -> None:
    db: RedisDatabase = make_db()
    old, new, sealed = await renewed(db, {"a": '"b"'}, grace=30.0)
    keys = await stored(db)
    assert set(keys) == {db.key(old).encode(), db.key(new).encode()}
    kind, alias = keys[db.key(old).encode()]
    assert kind == "string"
    assert isinstance(alias, bytes) and sealed.encode() in alias
    assert keys[db.key(new).encode()][0] == "hash"
    # No raw id anywhere: not in a key, a field or a value.
    dump = repr(keys).encode()
    assert old.encode() not in dump and new.encode() not in dump
    pttl = await db.client.pttl(db.key(old))
    assert 0 < pttl <= 30_000
    # The new id's session: its data, the new issue time, no successor.
    fresh = await db.load(new)
    assert fresh is not None and fresh.values == {"a": '"b"'} and fresh.successor is None
    assert fresh.issued > fresh.created == 1.0
    # The old id: the renewed session, and the sealed new id.
    through = await db.load(old)
    assert through is not None and through.values == {"a": '"b"'}
    assert through.successor == sealed and open_successor(old, sealed) == new
    assert through.issued == fresh.issued


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_writes_through_an_alias_raise_session_moved_and_write_nothing(
    make_db: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    db: RedisDatabase = make_db()
    old, new, sealed = await renewed(db, {"a": '"b"'})
    before = await stored(db)
    with pytest.raises(SessionMoved) as moved:
        await db.commit(old, [Op("set", "a", '"changed"')], 5.0, None, None)
    assert moved.value.successor == sealed
    with pytest.raises(SessionMoved) as moved:
        await db.touch(old, 5.0, time.time() + 3600)
    assert moved.value.successor == sealed
    other = new_id()
    with pytest.raises(SessionMoved) as moved:
        await db.rename(old, other)
    assert moved.value.successor == sealed
    with pytest.raises(SessionMoved) as moved:
        await db.destroy(old)
    assert moved.value.successor == sealed
    assert await db.renew(old, new_id(), "x", time.time(), time.time() + 30) == sealed
    assert await db.exists(old)
    assert not await db.create(old, record(n="1"))
    assert await stored(db) == before  # nothing written, nothing deleted
    # The renewed session takes writes under its new id.
    await db.commit(new, [Op("set", "a", '"changed"')], 5.0, None, None)
    through = await db.load(old)
    assert through is not None and through.values == {"a": '"changed"'}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_an_alias_is_followed_one_level_and_only_to_a_live_session(
    make_db: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    db: RedisDatabase = make_db()
    old, new, _ = await renewed(db, {"a": '"b"'})
    newer = new_id()
    now = time.time()
    assert await db.renew(new, newer, seal_successor(new, newer), now, now + 30) is True
    assert await db.load(old) is None  # an alias of an alias
    assert (await db.load(new)) is not None
    assert await db.destroy(newer)
    assert await db.load(new) is None  # its session is gone
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_a_renewal_to_a_taken_id_of_a_gone_session_or_without_a_window(
    make_db: Callable[..., Any],
) -> None:
    db: RedisDatabase = make_db()
    old, taken = new_id(), new_id()
    assert await db.create(old, record(a='"b"'))
    assert await db.create(taken, record(c='"d"'))
    now = time.time()
    assert await db.renew(old, taken, seal_successor(old, taken), now, now + 30) is False
    kept = await db.load(old)
    assert kept is not None and kept.values == {"a": '"b"'} and kept.successor is None
    with pytest.raises(SessionInterrupted):
        await db.renew(new_id(), new_id(), "x", now, now + 30)
    # A window already over leaves no alias.
    new = new_id()
    assert await db.renew(old, new, seal_successor(old, new), now, now - 1) is True
    assert not await db.exists(old)
    assert set(await stored(db)) == {db.key(taken).encode(), db.key(new).encode()}


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_rename_sets_when_the_id_was_issued(make_db: Callable[..., Any]) -> None:
    db: RedisDatabase = make_db()
    old, new = new_id(), new_id()
    assert await db.create(old, record(a='"b"'))
    assert await db.rename(old, new, 1234.5)
    moved = await db.load(new)
    assert moved is not None and moved.issued == 1234.5 and moved.created == 1.0
    issued = Record({}, frozenset(), {}, 1.0, 1.0, None, None, issued=99.0)
    other = new_id()
    assert await db.create(other, issued)
    again = await db.load(other)
    assert again is not None and again.issued == 99.0


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_two_renewals_at_once_converge_on_one_new_id(
    make_db: Callable[..., Any],
) -> None:
    first: RedisDatabase = make_db()
    second: RedisDatabase = make_db()  # another process, on the same keys
    second.prefix = first.prefix
    for _ in range(5):
        old = new_id()
        assert await first.create(old, record(a='"b"'))
        one, two = new_id(), new_id()
        now = time.time()
        results = await asyncio.gather(
            first.renew(old, one, seal_successor(old, one), now, now + 30),
            second.renew(old, two, seal_successor(old, two), now, now + 30),
        )
        assert sorted(type(r).__name__ for r in results) == ["bool", "str"]
        winner = one if results[0] is True else two
        sealed = results[1] if results[0] is True else results[0]
        assert isinstance(sealed, str) and open_successor(old, sealed) == winner
        sessions = [k for k, (kind, _) in (await stored(first)).items() if kind == "hash"]
        assert sessions == [first.key(winner).encode()]
        assert await first.destroy(winner)


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_the_user_index_follows_a_renewal(make_db: Callable[..., Any]) -> None:
    db: RedisDatabase = make_db()
    session, bound = logged_in(a='"b"')
    old, new = new_id(), new_id()
    assert await db.create(old, session)
    await db.index_add(bound.tag, bound.handle, old, None)
    now = time.time()
    assert await db.renew(old, new, seal_successor(old, new), now, now + 30) is True
    index = db.index_key(bound.tag)
    assert await db.client.hget(index, bound.handle) == store_key(new).encode()
    [(handle, found)] = await db.index_sessions(bound.tag)
    assert handle == bound.handle and found.values == {"a": '"b"'}
    assert await db.index_destroy(bound.tag, bound.handle) == (True, None)
    assert await db.load(new) is None and await db.load(old) is None


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_an_index_entry_left_on_an_alias_is_followed_never_pruned(
    make_db: Callable[..., Any],
) -> None:
    # The entry still names the old key (a cluster renewal interrupted
    # between converting the old key and re-pointing the entry): a reader
    # reports the renewed session and re-points the entry; a revoke destroys
    # the renewed session and the alias.
    db: RedisDatabase = make_db()
    session, bound = logged_in(a='"b"')
    index = db.index_key(bound.tag)
    for revoke_first in (False, True):
        old, new = new_id(), new_id()
        assert await db.create(old, session)
        await db.index_add(bound.tag, bound.handle, old, None)
        now = time.time()
        assert await db.renew(old, new, seal_successor(old, new), now, now + 30) is True
        await db.client.hset(index, bound.handle, store_key(old))
        if not revoke_first:
            [(handle, found)] = await db.index_sessions(bound.tag)
            assert handle == bound.handle and found.values == {"a": '"b"'}
            assert await db.client.hget(index, bound.handle) == store_key(new).encode()
            await db.client.hset(index, bound.handle, store_key(old))
        assert await db.index_destroy(bound.tag, bound.handle) == (True, None)
        assert not await db.exists(new) and not await db.exists(old)
        assert await db.index_sessions(bound.tag) == []


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_destroy_user_after_a_renewal_revokes_the_renewed_session(
    make_db: Callable[..., Any], serve: Callable[..., Browser]
) -> None:
    db: RedisDatabase = make_db()
    manager = Sessions(Config(renew_after=3600, renew_grace=30))
    manager.use_database(db)
    phone = serve(make_app(manager))
    first = (await phone.get("/login?user=alice")).json()["id"]
    straggler = phone.fork()  # a request sent with the old cookie, later
    laptop = Browser(phone.base_url)
    assert (await laptop.get("/login?user=alice")).code == 200
    # The phone's id was issued long ago: its next request renews it.
    await db.client.hset(db.key(first), "_r", repr(time.time() - 7200))
    assert (await phone.get("/set?key=a&value=b")).code == 200
    assert (await db.client.type(db.key(first))) == b"string"
    renewed_id = (await phone.get("/get")).json()["id"]
    assert renewed_id != first
    # The old cookie, in the window, reads and writes the renewed session.
    late = await straggler.get("/set?key=c&value=d")
    assert late.code == 200 and late.json()["is_new"] is False
    assert (await straggler.get("/get")).json()["id"] == renewed_id
    assert (await phone.get("/get")).json()["values"] == {"a": "b", "c": "d"}
    revoked = await laptop.get("/revoke-others?keep=0")
    assert revoked.json() == {"destroyed": 2}
    assert (await phone.get("/get")).json()["is_new"] is True
    assert (await straggler.get("/get")).json()["is_new"] is True
    assert not await db.exists(renewed_id)
    assert await db.load(first) is None  # the alias names nothing any more


@BOTH
@pytest.mark.gen_test(timeout=30)
async def test_a_key_of_another_type_that_is_no_alias_is_still_no_session(
    make_db: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    db: RedisDatabase = make_db()
    text, listed = new_id(), new_id()
    await db.client.set(db.key(text), b"tornsess-alias:not-a-store-key:x")
    await db.client.rpush(db.key(listed), b"x")
    for sid in (text, listed):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tornsess"):
            assert await db.load(sid) is None
        assert len(store_records(caplog, logging.WARNING)) == 1
        with pytest.raises(SessionInterrupted) as info:
            await db.commit(sid, [], 2.0, None, None)
        assert not isinstance(info.value, SessionMoved)
        with pytest.raises(SessionInterrupted) as info:
            await db.renew(sid, new_id(), "x", time.time(), time.time() + 30)
        assert not isinstance(info.value, SessionMoved)
    assert await db.client.get(db.key(text)) == b"tornsess-alias:not-a-store-key:x"
