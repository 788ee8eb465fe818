"""Soak: many concurrent clients logging in, reading, incrementing, reading
flashes and logging out, against every store. ``make test`` sends a few
thousand requests per store; ``make soak`` sends 20,000 per store
(``SOAK_REQUESTS``) and prints the figures."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.apps import make_app
from tests.helpers import Browser
from tornsess import MemoryDatabase, Sessions
from tornsess.database import Database
from tornsess.sessiondb import PostgreSQLDatabase, RedisDatabase, SQLiteDatabase

REQUESTS = int(os.environ.get("SOAK_REQUESTS", "2000"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "32"))
COOKIE = "tornsessid"


@pytest.fixture
def many_connections() -> Iterator[None]:
    """Let the test's HTTP client open a connection per soak client."""
    AsyncHTTPClient.configure(None, max_clients=CLIENTS * 2)
    yield
    AsyncHTTPClient.configure(None)


class Soak:
    """One soak run: the clients, what they expect, and what they got."""

    def __init__(self, base: Browser, budget: int) -> None:
        self.base = base
        self.budget = budget
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.abandoned = 0
        self.logged_out = 0

    async def call(self, browser: Browser, path: str, body: object = None) -> object:
        self.sent += 1
        if body is None:
            response = await browser.get(path)
        else:
            response = await browser.post(path, body)
        self.statuses[response.code] += 1
        assert response.code == 200, (path, response.code, response.text[:200])
        return response.json()

    async def client(self, number: int) -> None:
        cycle = 0
        while self.sent < self.budget:
            cycle += 1
            browser = Browser(self.base.base_url)
            user = f"client{number}-{cycle}"
            # Log in: a session with data, then a new id for it.
            await self.call(browser, f"/set?key=user&value={user}")
            await self.call(browser, "/regenerate")
            expected = 0
            for _ in range(1 + (number + cycle) % 5):
                expected += 1
                body = await self.call(browser, "/incr?key=n")
                assert body["value"] == expected  # type: ignore[index]
            await self.call(browser, "/flash/set", {"notice": cycle})
            flash = await self.call(browser, "/flash/get?key=notice")
            assert flash[:2] == [cycle, cycle]  # type: ignore[index]
            read = await self.call(browser, "/get")
            assert read["values"] == {"user": user, "n": expected}  # type: ignore[index]
            if cycle % 4 == 0:
                self.abandoned += 1  # walks away: left to expire
                continue
            await self.call(browser, "/destroy")
            self.logged_out += 1
            after = await self.call(browser, "/get")
            assert after["is_new"] is True  # type: ignore[index]


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    if kind == "memory":
        return MemoryDatabase()
    if kind == "sqlite":
        return SQLiteDatabase(str(tmp_path / "soak.db"))
    if kind == "postgresql":
        dsn = request.getfixturevalue("postgresql_dsn")
        return PostgreSQLDatabase(dsn, table=f"soak{uuid.uuid4().hex[:8]}")
    url = request.getfixturevalue("redis_url" if kind == "redis" else "cluster_url")
    return RedisDatabase(url, prefix=f"soak{uuid.uuid4().hex[:8]}:")


@pytest.mark.gen_test(timeout=3600)
@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis", "cluster", "postgresql"])
async def test_soak(
    kind: str,
    serve: Callable[..., Browser],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    many_connections: None,
) -> None:
    offset = [0.0]
    db: Database
    if kind == "memory":
        # Its own clock, moved past every expiry at the end.
        db = MemoryDatabase(clock=lambda: time.time() + offset[0])
    else:
        db = make_store(kind, tmp_path, request)
    manager = Sessions(idle_timeout=600)
    manager.use_database(db)
    soak = Soak(serve(make_app(manager)), REQUESTS)
    started = time.perf_counter()
    await asyncio.gather(*(soak.client(n) for n in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    assert set(soak.statuses) == {200}
    assert soak.sent >= REQUESTS
    print(
        f"\nsoak {kind}: {soak.sent} requests, {CLIENTS} concurrent clients, "
        f"statuses {dict(soak.statuses)}, {elapsed:.1f} s "
        f"({soak.sent / elapsed:.0f} requests/s), {soak.logged_out} logouts, "
        f"{soak.abandoned} abandoned sessions"
    )
    if isinstance(db, MemoryDatabase):
        # Every logged-out session is gone; only the abandoned ones remain,
        # and once the sweep has run past their expiry, none.
        assert len(db) == soak.abandoned
        offset[0] = 601.0
        assert db.sweep() == soak.abandoned
        assert len(db) == 0
        assert db.heap_size == 0
    await db.close()
