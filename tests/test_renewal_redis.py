"""Id renewal on Redis and Redis Cluster: what only a store written by
someone else, or a node that stalls mid-renewal, can bring about."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from redis.cluster import RedisCluster

from tests.helpers import Browser, OwnCluster
from tests.test_renewal import KEY, app, cookie_of, old_session, renewing, sent_id
from tornsess import Sessions
from tornsess.encoders import SignedEncoder
from tornsess.ids import new_id, seal_successor, store_key
from tornsess.sessiondb import RedisDatabase


@pytest.fixture(params=["redis", "cluster"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.gen_test(timeout=60)
async def test_a_forged_alias_never_gives_another_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    # Someone who can write the store, but knows no victim id (only its
    # store key, which the store holds), turns an id of its own into an
    # alias naming the victim's key, sealed under its own id.
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    db = manager.database
    assert isinstance(db, RedisDatabase)
    victim, _ = await old_session(manager, {"secret": "victim data"}, user="victim", age=1)
    attacker = new_id()
    forged = f"tornsess-alias:{store_key(victim)}:{seal_successor(attacker, new_id())}"
    client: Any = db.client
    await client.set(db.key(attacker), forged, px=30_000)
    token = manager.config.effective_encoding.encode(manager.config.cookie, attacker)
    response = await browser.get("/handle", cookie=cookie_of(manager, token), keep=False)
    assert response.code == 200
    assert response.json()["user"] is None and response.json()["values"] == {}
    assert "victim" not in response.text


@pytest.mark.gen_test(timeout=120)
async def test_a_stalled_index_node_mid_renewal_never_hides_a_session(
    redis_cluster: OwnCluster, serve: Callable[..., Browser]
) -> None:
    # The user index and the old session on different masters; the index's
    # master stalls while a request renews the session: the renewal's
    # request gets a 503, its client comes back with the old id in the
    # window. After the window the renewed session is listed and revoked.
    prefix = f"stall{uuid.uuid4().hex[:8]}:"
    db = RedisDatabase(redis_cluster.url, prefix=prefix, timeout=1)
    manager = Sessions(encoding=SignedEncoder(KEY), renew_after=600, renew_grace=4)
    manager.use_database(db)
    browser = serve(app(manager))
    cluster = RedisCluster(host="127.0.0.1", port=redis_cluster.ports[0])
    ports = {port: index for index, port in enumerate(redis_cluster.ports)}

    def node(key: str) -> int:
        found: Any = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
        return ports[found.port]

    try:
        for round in range(2):
            user = f"user{round}"
            index_node = node(db.index_key(manager._path.user_tags(user)[0]))
            old, token = await old_session(manager, {"n": 1}, user=user)
            while node(db.key(old)) == index_node:
                await manager.destroy_by_id(old)
                old, token = await old_session(manager, {"n": 1}, user=user)
            redis_cluster.cli(index_node, "CLIENT", "PAUSE", "2500", "WRITE")
            first = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
            assert first.code in (200, 503)
            while True:  # the pause ends within its 2.5 s
                retry = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
                if retry.code == 200:
                    break
                await asyncio.sleep(0.2)
            new = sent_id(manager, retry)
            assert new is not None and new != old
            await asyncio.sleep(4.2)  # the window ends
            assert len(await manager.user_sessions(user)) == 1
            assert await manager.destroy_user(user) == 1
            fresh = await browser.get(
                "/get",
                cookie=cookie_of(manager, retry.set_cookies[manager.config.cookie]["value"]),
                keep=False,
            )
            assert fresh.json()["is_new"] is True
    finally:
        cluster.close()
        await db.close()
