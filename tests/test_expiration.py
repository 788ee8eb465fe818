"""Absolute and idle timeouts, update/shift_expiration, and the memory sweep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

import tornsess
from tests.apps import make_app
from tests.helpers import Browser
from tornsess import MemoryDatabase, Sessions
from tornsess.database import Op, Record

NAME = tornsess.DEFAULT_COOKIE_NAME


async def wait_until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    """Poll *predicate* (bounded; this asserts an outcome, not a duration)."""
    for _ in range(int(limit / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)


@pytest.mark.gen_test(timeout=30)
async def test_absolute_expiry_ends_the_session_and_fires_on_destroy(
    sessions_factory: Callable[..., Sessions],
    store_kind: str,
    serve: Callable[..., Browser],
) -> None:
    manager = sessions_factory(expires=timedelta(seconds=0.5))
    destroyed: list[str] = []
    manager.on_destroy(destroyed.append)
    browser = serve(make_app(manager))
    response = await browser.get("/set?key=a&value=b")
    assert response.cookie(NAME)["max-age"] == "1"
    sid = response.json()["id"]
    await asyncio.sleep(0.6)
    after = (await browser.get("/get")).json()
    assert after["is_new"] is True and after["values"] == {}
    await manager.wait_for_callbacks()
    # Redis expires the key itself and knows only the hash of the id.
    assert destroyed == ([] if store_kind in ("redis", "cluster") else [sid])


@pytest.mark.gen_test(timeout=30)
async def test_expired_sessions_are_swept_without_requests(serve: Callable[..., Browser]) -> None:
    manager = Sessions(expires=0.3)
    db = MemoryDatabase(sweep_interval=0.1)
    manager.use_database(db)
    destroyed: list[str] = []
    manager.on_destroy(destroyed.append)
    browser = serve(make_app(manager))
    ids = [(await browser.fork().get("/set?key=a&value=b")).json()["id"] for _ in range(3)]
    assert len(db) == 3
    await wait_until(lambda: len(destroyed) == 3)
    assert sorted(destroyed) == sorted(ids)
    assert len(db) == 0


@pytest.mark.gen_test(timeout=30)
async def test_idle_timeout_extends_with_activity_then_ends(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(idle_timeout=1.0)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    for _ in range(4):
        await asyncio.sleep(0.3)
        assert (await browser.get("/get")).json()["id"] == sid
    await asyncio.sleep(1.1)
    assert (await browser.get("/get")).json()["is_new"] is True


@pytest.mark.gen_test(timeout=30)
async def test_activity_never_extends_the_absolute_limit(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(expires=2.0, idle_timeout=5)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    deadline = time.time() + 2.0
    while time.time() < deadline - 1.0:
        assert (await browser.get("/get")).json()["id"] == sid
        await asyncio.sleep(0.1)
    await asyncio.sleep(max(0.0, deadline - time.time()) + 0.1)
    assert (await browser.get("/get")).json()["is_new"] is True


class CountingDatabase(MemoryDatabase):
    """The memory store, counting calls (a real store, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.touches = 0
        self.commits = 0

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        self.touches += 1
        return await super().touch(session_id, accessed, expires_at)

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        self.commits += 1
        await super().commit(session_id, ops, accessed, deadline, expires_at)

    async def load(self, session_id: str) -> Record | None:
        return await super().load(session_id)


@pytest.mark.gen_test(timeout=30)
async def test_idle_refresh_touches_the_store_at_most_once_per_tenth(
    serve: Callable[..., Browser],
) -> None:
    manager = Sessions(idle_timeout=3600)
    db = CountingDatabase()
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/set?key=a&value=b")
    for _ in range(20):
        assert (await browser.get("/get")).code == 200
    assert db.touches == 0
    assert db.commits == 0

    quick = Sessions(idle_timeout=1.0)
    quick_db = CountingDatabase()
    quick.use_database(quick_db)
    browser = serve(make_app(quick))
    await browser.get("/set?key=a&value=b")
    await asyncio.sleep(0.15)
    await browser.get("/get")
    assert quick_db.touches == 1


@pytest.mark.gen_test
async def test_update_expiration_without_a_session_raises(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    response = await browser.get("/update-first?expires=60")
    assert response.code == 404
    assert response.set_cookies == {}
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    ok = await browser.get("/update-first?expires=60")
    assert ok.text == sid
    assert ok.cookie(NAME)["max-age"] == "60"


@pytest.mark.gen_test
async def test_update_expiration_to_browser_session_and_unlimited(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
) -> None:
    browser = serve(make_app(sessions_factory(expires=60)))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    session_cookie = (await browser.get("/update?expires=-1")).cookie(NAME)
    assert session_cookie["value"] == browser.jar[NAME]
    assert "max-age" not in session_cookie
    unlimited = (await browser.get("/update?expires=0")).cookie(NAME)
    assert int(unlimited["max-age"]) == tornsess.BROWSER_MAX_AGE
    assert (await browser.get("/get")).json()["id"] == sid


@pytest.mark.gen_test
async def test_shift_expiration_uses_the_configured_expires(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(expires=120)))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    response = await browser.get("/shift")
    assert response.json()["id"] == sid
    assert 119 <= int(response.cookie(NAME)["max-age"]) <= 120


@pytest.mark.gen_test(timeout=30)
async def test_update_expiration_extends_the_server_side_lifetime(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
) -> None:
    browser = serve(make_app(sessions_factory(expires=0.5)))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    await browser.get("/update?expires=60")
    await asyncio.sleep(0.7)
    assert (await browser.get("/get")).json()["id"] == sid


def test_sweep_cost_grows_with_expired_sessions_only() -> None:
    """A sweep pops only expired heap entries: live sessions are not visited."""

    now = [1000.0]
    db = MemoryDatabase(clock=lambda: now[0])

    async def fill() -> None:
        for i in range(2000):
            expires_at = 1500.0 if i < 10 else 10**9
            await db.create(f"id{i}", Record({}, frozenset(), {}, 0.0, 0.0, None, expires_at))

    asyncio.run(fill())
    now[0] = 2000.0
    visited_before = len(db._heap)
    assert db.sweep() == 10
    assert visited_before - len(db._heap) == 10
    assert len(db) == 1990


@pytest.mark.gen_test
async def test_memory_store_size_limit_evicts_the_oldest(serve: Callable[..., Browser]) -> None:
    manager = Sessions()
    db = MemoryDatabase(max_sessions=3)
    manager.use_database(db)
    evicted: list[str] = []
    manager.on_destroy(evicted.append)
    browser = serve(make_app(manager))
    clients = [browser.fork() for _ in range(5)]
    ids = [(await c.get("/set?key=a&value=b")).json()["id"] for c in clients]
    assert len(db) == 3
    await manager.wait_for_callbacks()
    assert evicted == ids[:2]
    assert (await clients[0].get("/get")).json()["is_new"] is True
    assert (await clients[4].get("/get")).json()["id"] == ids[4]
    with pytest.raises(ValueError):
        MemoryDatabase(max_sessions=0)
