"""Two Tornado server processes, real subprocesses on free loopback ports,
sharing one redis-server (and, for the cluster, one Redis Cluster; and one
PostgreSQL server)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.helpers import AppProcess, Browser, OwnRedis, free_port
from tornsess import Sessions
from tornsess.ids import store_key
from tornsess.sessiondb import PostgreSQLDatabase, RedisDatabase

COOKIE = "tornsessid"


def shared_store(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The URL of the parametrized store and the option that gives the two
    processes a table or key prefix of their own."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgresql_dsn")
        return url, f"--table=mp{time.monotonic_ns()}"
    url = request.getfixturevalue("redis_url" if request.param == "redis" else "cluster_url")
    return url, f"--prefix=mp{time.monotonic_ns()}:"


@contextlib.contextmanager
def started(url: str, *options: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    a = AppProcess(url, *options)
    try:
        b = AppProcess(url, *options)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(params=["redis", "cluster", "postgresql"])
def two_processes(request: pytest.FixtureRequest) -> Iterator[tuple[AppProcess, AppProcess]]:
    with started(*shared_store(request)) as pair:
        yield pair


@pytest.fixture(params=["redis", "cluster", "postgresql"])
def two_renewing_processes(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[AppProcess, AppProcess, str, str]]:
    """Two processes that renew ids older than 600 s; the store's URL and
    option, for the test to plant an old session."""
    url, option = shared_store(request)
    with started(url, option, "--renew-after=600", "--renew-grace=30") as (a, b):
        yield a, b, url, option


def pair(a: AppProcess, b: AppProcess) -> tuple[Browser, Browser]:
    """One browser's cookie jar, used against both processes."""
    on_a, on_b = a.browser(), b.browser()
    on_b.jar = on_a.jar
    return on_a, on_b


@pytest.mark.gen_test(timeout=120)
async def test_two_processes_share_sessions(two_processes: tuple[AppProcess, AppProcess]) -> None:
    a, b = two_processes
    on_a, on_b = pair(a, b)

    # A login on A is seen on B; a value set on B is read on A.
    login = await on_a.get("/set?key=user&value=alice")
    sid = login.json()["id"]
    seen = (await on_b.get("/get")).json()
    assert seen["id"] == sid and seen["values"] == {"user": "alice"}
    await on_b.get("/set?key=cart&value=3-apples")
    assert (await on_a.get("/get")).json()["values"] == {"user": "alice", "cart": "3-apples"}

    # A flash set on A is read once on B, then gone on A.
    await on_a.post("/flash/set", {"notice": "saved"})
    assert (await on_b.get("/flash/get?key=notice")).json()[:2] == ["saved", "saved"]
    assert (await on_a.get("/flash/has")).json() is False

    # update_expiration on A changes the lifetime B sees (and Redis holds).
    await on_a.get("/update?expires=100")
    info = (await on_b.get("/info")).json()
    assert info["id"] == sid
    assert 90 < info["expires_at"] - time.time() <= 100

    # regenerate on A kills the old id on B.
    new = (await on_a.get("/regenerate")).json()["new"]
    assert new != sid
    old_on_b = (await on_b.get("/get", cookie=f"{COOKIE}={sid}", keep=False)).json()
    assert old_on_b["is_new"] is True and old_on_b["values"] == {}
    assert (await on_b.get("/get")).json()["values"]["user"] == "alice"

    # A destroy on B is seen on A.
    await on_b.get("/destroy")
    after = (await on_a.get("/get", cookie=f"{COOKIE}={new}", keep=False)).json()
    assert after["is_new"] is True

    # destroy_all on A logs out the sessions created on B.
    others = [b.browser() for _ in range(3)]
    for browser in others:
        await browser.get("/set?key=user&value=bob")
    await a.browser().get("/destroy-all")
    for browser in others:
        assert (await browser.get("/get")).json()["is_new"] is True


@pytest.mark.gen_test(timeout=120)
async def test_increments_spread_over_two_processes_add_up(
    two_processes: tuple[AppProcess, AppProcess],
) -> None:
    a, b = two_processes
    on_a, _ = pair(a, b)
    await on_a.get("/set?key=owner&value=alice")
    cookie = f"{COOKIE}={on_a.jar[COOKIE]}"

    async def client(number: int) -> None:
        targets = [a.browser(), b.browser()]
        for i in range(50):
            response = await targets[(number + i) % 2].get("/incr?key=n", cookie=cookie)
            assert response.code == 200

    await asyncio.gather(*(client(n) for n in range(8)))
    assert (await b.browser().get("/get", cookie=cookie)).json()["values"]["n"] == 400
    assert (await a.browser().get("/get", cookie=cookie)).json()["values"]["n"] == 400


@pytest.mark.gen_test(timeout=60)
async def test_ttl_set_on_one_process_is_the_redis_ttl(redis_url: str) -> None:
    prefix = f"ttl{time.monotonic_ns()}:"
    a, b = AppProcess(redis_url, f"--prefix={prefix}"), AppProcess(redis_url, f"--prefix={prefix}")
    client: Any = aioredis.Redis.from_url(redis_url)
    try:
        on_a, on_b = pair(a, b)
        sid = (await on_a.get("/set?key=a&value=b")).json()["id"]
        await on_a.get("/update?expires=300")
        ttl = await client.pttl(f"{prefix}{{{store_key(sid)}}}")
        assert 290_000 < ttl <= 300_000
        seen = (await on_b.get("/info")).json()["expires_at"]
        assert abs(seen - (time.time() + ttl / 1000)) < 5
    finally:
        a.stop()
        b.stop()
        await client.aclose()


def _demo(port: int, store: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "demo.py", f"--port={port}", "--encoder=signed", f"--store={store}"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        assert line, "demo.py exited"
        if b"secret cake" in line:
            return proc
    raise AssertionError("demo.py printed no walkthrough")


@pytest.mark.gen_test(timeout=120)
async def test_the_deployment_recipe(own_redis: OwnRedis) -> None:
    """docs/deployment.rst: two demo processes, one Redis, one secret."""
    key = subprocess.run(
        [sys.executable, "-m", "tornsess", "keygen"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    env = {**os.environ, "TORNSESS_SECRET": key}
    ports = [free_port(), free_port()]
    procs = [_demo(port, own_redis.url, env) for port in ports]
    try:
        first = Browser(f"http://127.0.0.1:{ports[0]}")
        second = Browser(f"http://127.0.0.1:{ports[1]}")
        second.jar = first.jar
        assert (await first.get("/login")).text == "You are logged in.\n"
        assert (await second.get("/secret")).text == "The cake is a lie!\n"
        assert (await second.get("/logout")).text == "You are logged out.\n"
        assert (await first.get("/secret")).text == "Forbidden\n"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.mark.gen_test(timeout=120)
async def test_two_processes_renew_an_id_once_and_lose_no_write(
    two_renewing_processes: tuple[AppProcess, AppProcess, str, str],
) -> None:
    from tests.test_renewal import old_session

    a, b, url, option = two_renewing_processes
    manager = Sessions()
    if url.startswith("postgresql://"):
        manager.use_database(PostgreSQLDatabase(url, table=option.partition("=")[2]))
    else:
        manager.use_database(RedisDatabase(url, prefix=option.partition("=")[2]))
    for _ in range(3):
        old, token = await old_session(manager, {"n": 0})
        cookie = f"{COOKIE}={token}"
        responses = await asyncio.gather(
            *(
                process.browser().get("/incr?key=n", cookie=cookie, keep=False)
                for process in (a, b) * 4
            )
        )
        assert {r.code for r in responses} == {200}
        sent = {r.set_cookies[COOKIE]["value"] for r in responses}
        assert len(sent) == 1 and old not in sent  # one new id, on both processes
        (new,) = sent
        for process in (a, b):
            read = await process.browser().get("/get", cookie=f"{COOKIE}={new}", keep=False)
            assert read.json()["values"] == {"n": 8}
            assert not read.set_cookies
    await manager.database.close()
