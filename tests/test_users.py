"""A user's sessions: login, device lists, revoking one device or all
others, in every store (memory, SQLite, Redis, Redis Cluster) and in
O(that user's sessions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import tornado.web

import tornsess
from tests.apps import Base, make_app
from tests.helpers import AppProcess, Browser
from tests.test_stores import CountingConnection
from tornsess import NotSupported, SessionInfo, Sessions
from tornsess.database import Binding, Database
from tornsess.encoders import SignedEncoder
from tornsess.ids import new_id, store_key, user_tag
from tornsess.sessiondb import PostgreSQLDatabase, RedisDatabase, SQLiteDatabase

COOKIE = "tornsessid"


def devices(response: Any) -> list[dict[str, Any]]:
    assert response.code == 200, response.text
    return list(response.json())


@pytest.mark.gen_test
async def test_login_binds_regenerates_and_lists(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    before = (await browser.get("/set?key=cart&value=3")).json()["id"]
    login = await browser.get("/login?user=alice")
    body = login.json()
    assert body["user"] == "alice"
    assert body["id"] != before  # a new id in the same step (fixation)
    assert login.cookie(COOKIE)["value"] == body["id"]
    assert not await manager.database.exists(before)
    assert (await browser.get("/get")).json()["values"] == {"cart": "3"}  # data kept
    listed = devices(await browser.get("/devices"))
    assert [d["handle"] for d in listed] == [body["handle"]]
    assert listed[0]["current"] is True
    assert listed[0]["ip"] is None and listed[0]["user_agent"] is None
    assert abs(listed[0]["last_login"] - time.time()) < 60


@pytest.mark.gen_test(timeout=60)
async def test_destroy_user_with_and_without_keep(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    destroyed: list[str] = []
    manager.on_destroy(destroyed.append)
    browser = serve(make_app(manager))
    phones = [Browser(browser.base_url) for _ in range(3)]
    for phone in phones:
        await phone.get("/login?user=alice")
    bob = Browser(browser.base_url)
    await bob.get("/login?user=bob")
    assert len(devices(await phones[0].get("/devices"))) == 3
    # Log out the other devices: the current one stays.
    assert (await phones[0].get("/revoke-others")).json() == {"destroyed": 2}
    assert (await phones[1].get("/get")).json()["is_new"] is True
    assert (await phones[2].get("/get")).json()["is_new"] is True
    assert [d["current"] for d in devices(await phones[0].get("/devices"))] == [True]
    # Log out everywhere: bob is untouched.
    assert (await phones[0].get("/revoke-others?keep=0")).json() == {"destroyed": 1}
    assert (await phones[0].get("/get")).json()["is_new"] is True
    assert len(devices(await bob.get("/devices"))) == 1
    await manager.wait_for_callbacks()
    # on_destroy runs for each where the store knows the ids.
    if not isinstance(manager.database, (RedisDatabase, PostgreSQLDatabase)):
        assert len(destroyed) == 3


@pytest.mark.gen_test
async def test_a_revoked_device_is_anonymous_on_its_next_request(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    laptop, phone = Browser(browser.base_url), Browser(browser.base_url)
    await laptop.get("/login?user=carol")
    phone_handle = (await phone.get("/login?user=carol")).json()["handle"]
    assert (await laptop.get(f"/revoke?handle={phone_handle}")).json() == {"existed": True}
    after = (await phone.get("/get")).json()
    assert after["is_new"] is True and after["values"] == {}
    assert [d["handle"] for d in devices(await laptop.get("/devices"))] != [phone_handle]
    assert len(devices(await laptop.get("/devices"))) == 1
    again = (await laptop.get(f"/revoke?handle={phone_handle}")).json()
    assert again == {"existed": False}
    for junk in ["", "x", "~", new_id(), "0123456789abcdef~", "a" * 500]:
        assert (await laptop.get(f"/revoke?handle={junk}")).json() == {"existed": False}


@pytest.mark.gen_test(timeout=60)
async def test_expired_sessions_never_appear_in_a_list(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(expires=1)
    browser = serve(make_app(manager))
    await browser.get("/login?user=dave")
    survivor = Browser(browser.base_url)
    await asyncio.sleep(1.2)
    await survivor.get("/login?user=dave")
    listed = devices(await survivor.get("/devices"))
    assert len(listed) == 1 and listed[0]["current"] is True


@pytest.mark.gen_test
async def test_handles_are_stable_and_refused_as_cookies(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    handle = (await browser.get("/login?user=erin")).json()["handle"]
    sid = browser.jar[COOKIE]
    for _ in range(3):
        await browser.get("/incr?key=n")
        assert [d["handle"] for d in devices(await browser.get("/devices"))] == [handle]
    assert handle not in sid and sid not in handle
    assert store_key(sid) not in handle
    stranger = await browser.get("/get", cookie=f"{COOKIE}={handle}", keep=False)
    assert stranger.json()["is_new"] is True and stranger.json()["values"] == {}
    # regenerate keeps the handle, and the index follows the new id.
    new = (await browser.get("/regenerate")).json()["new"]
    assert new != sid
    assert [d["handle"] for d in devices(await browser.get("/devices"))] == [handle]


@pytest.mark.gen_test
async def test_logging_in_as_another_user_replaces_the_binding(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    await browser.get("/login?user=frank")
    second = (await browser.get("/login?user=grace")).json()
    assert second["user"] == "grace"
    assert devices(await browser.get("/devices?user=frank")) == []
    assert [d["handle"] for d in devices(await browser.get("/devices"))] == [second["handle"]]


@pytest.mark.gen_test
async def test_logging_in_as_another_user_starts_from_an_empty_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    """A flag set for one user (a passed second factor) never carries over to
    the next user who logs in in the same browser; an anonymous cart, and a
    login again as the same user, keep the values (Django's rule)."""
    manager = sessions_factory()
    browser = serve(make_app(manager))
    await browser.get("/set?key=cart&value=socks")  # anonymous
    await browser.get("/login?user=mallory")
    assert (await browser.get("/get")).json()["values"] == {"cart": "socks"}
    await browser.get("/set?key=mfa_passed&value=yes")
    await browser.post("/flash/set", {"note": "hi"})
    await browser.get("/login?user=mallory")  # the same user again
    assert (await browser.get("/get")).json()["values"] == {"cart": "socks", "mfa_passed": "yes"}
    victim = (await browser.get("/login?user=victim")).json()
    assert victim["user"] == "victim"
    assert (await browser.get("/get")).json()["values"] == {}
    assert (await browser.get("/flash/peek?key=note")).json() is None
    assert [d["handle"] for d in devices(await browser.get("/devices"))] == [victim["handle"]]
    await browser.get("/set?key=theme&value=dark")
    await browser.get("/login?user=third&keep=1")  # the application's explicit choice
    assert (await browser.get("/get")).json()["values"] == {"theme": "dark"}


@pytest.mark.gen_test
async def test_destroy_destroy_by_id_and_destroy_all_keep_lists_right(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    a, b, c = (Browser(browser.base_url) for _ in range(3))
    for client in (a, b, c):
        await client.get("/login?user=heidi")
    await b.get("/destroy")
    await a.get(f"/destroy-by-id?id={c.jar[COOKIE]}")
    assert [d["current"] for d in devices(await a.get("/devices"))] == [True]
    await a.get("/destroy-all")
    assert devices(await b.get("/devices?user=heidi")) == []


@pytest.mark.gen_test(timeout=60)
async def test_twenty_concurrent_logins_list_twenty(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    clients = [Browser(browser.base_url) for _ in range(20)]
    responses = await asyncio.gather(*(c.get("/login?user=ivan") for c in clients))
    assert {r.code for r in responses} == {200}
    handles = {r.json()["handle"] for r in responses}
    listed = devices(await clients[0].get("/devices"))
    assert len(listed) == 20
    assert {d["handle"] for d in listed} == handles


@pytest.mark.gen_test
async def test_record_client_and_remember(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(record_client=True)
    browser = serve(make_app(manager))
    agent = "Mozilla/5.0 " + "x" * 400
    login = await browser.get("/login?user=judy&remember=3600", headers={"User-Agent": agent})
    assert login.cookie(COOKIE)["max-age"] == "3600"
    (info,) = devices(await browser.get("/devices"))
    assert info["ip"] == "127.0.0.1"
    assert info["user_agent"] == agent[:256]
    assert 3500 < info["expires"] - time.time() <= 3600


def test_session_info_is_public() -> None:
    assert SessionInfo.__module__ == "tornsess.manager"
    assert tornsess.SessionInfo is SessionInfo


class Private(Base):
    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(f"hello {self.current_user}")


class OwnUser(Base):
    def get_current_user(self) -> Any:
        return "from the app"

    def get(self) -> None:
        self.finish(str(self.current_user))


@pytest.mark.gen_test
async def test_current_user_and_authenticated(serve: Callable[..., Browser]) -> None:
    app = make_app(Sessions(), login_url="/login")
    app.wildcard_router.add_rules([(r"/private", Private), (r"/own", OwnUser)])
    browser = serve(app)
    anonymous = await browser.get("/private")
    assert anonymous.code == 302 and anonymous.headers["Location"].startswith("/login")
    await browser.get("/login?user=kim")
    assert (await browser.get("/private")).text == "hello kim"
    assert (await browser.get("/own")).text == "from the app"


@pytest.mark.gen_test
async def test_reserved_keys_are_refused_and_hidden(serve: Callable[..., Browser]) -> None:
    async def run(h: Base) -> Any:
        await h.session.login("lou")
        try:
            h.session.set("\x00user", "mallory")
        except ValueError:
            refused = True
        else:
            refused = False
        h.session.set("a", 1)
        h.session.clear()
        return {"refused": refused, "keys": h.session.keys(), "user": h.session.user_id}

    browser = serve(make_app(Sessions(), run=run))
    assert (await browser.get("/run")).json() == {"refused": True, "keys": [], "user": "lou"}
    after = (await browser.get("/get")).json()
    assert after["values"] == {} and after["len"] == 0
    assert len(devices(await browser.get("/devices?user=lou"))) == 1  # clear kept the login


@pytest.mark.gen_test
async def test_a_store_without_an_index_says_so(serve: Callable[..., Browser]) -> None:
    from docs.examples.custom_store import DictDatabase

    manager = Sessions()
    manager.use_database(DictDatabase())
    browser = serve(make_app(manager))
    response = await browser.get("/login?user=max")
    assert response.code == 200  # logging in needs no index ...
    assert (await browser.get("/get")).json()["is_new"] is False
    with pytest.raises(NotSupported):  # ... listing does
        await manager.user_sessions("max")
    with pytest.raises(NotSupported):
        await manager.destroy_by_handle("0123456789abcdef~x")


# -- survive a restart of the app process; two processes ---------------------------


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_binding_and_list_survive_a_restart(
    kind: str, serve: Callable[..., Browser], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    prefix = f"restart{uuid.uuid4().hex[:8]}:"

    def store() -> Database:
        if kind == "sqlite":
            return SQLiteDatabase(str(tmp_path / "s.db"))
        return RedisDatabase(request.getfixturevalue("redis_url"), prefix=prefix)

    encoding = SignedEncoder("k" * 40)
    first = Sessions(encoding=encoding)
    first.use_database(store())
    browser = serve(make_app(first))
    handle = (await browser.get("/login?user=nina")).json()["handle"]
    await first.database.close()
    second = Sessions(encoding=encoding)  # a new process: new manager, new store object
    second.use_database(store())
    again = Browser(serve(make_app(second)).base_url)
    again.jar = browser.jar
    assert (await again.get("/info")).json()["is_new"] is False
    listed = devices(await again.get("/devices"))
    assert [(d["handle"], d["current"]) for d in listed] == [(handle, True)]
    await second.database.close()


@pytest.mark.gen_test(timeout=120)
async def test_two_processes_see_each_others_sessions(redis_url: str) -> None:
    prefix = f"users{uuid.uuid4().hex[:8]}:"
    a, b = AppProcess(redis_url, f"--prefix={prefix}"), AppProcess(redis_url, f"--prefix={prefix}")
    try:
        on_a, on_b = a.browser(), b.browser()
        await on_a.get("/login?user=olga")
        await on_b.get("/login?user=olga")
        assert len(devices(await on_a.get("/devices"))) == 2
        assert len(devices(await on_b.get("/devices"))) == 2
        assert (await on_a.get("/revoke-others")).json() == {"destroyed": 1}
        assert (await on_b.get("/get")).json()["is_new"] is True
    finally:
        a.stop()
        b.stop()


@pytest.mark.gen_test
@pytest.mark.parametrize("shape", ["old", "full"])
async def test_values_under_the_old_binding_keys_are_not_a_login(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser], shape: str
) -> None:
    """Rows that carry the keys an earlier release kept the binding under
    (a form handler could write them, so can a migration or another app on
    the same store) make no session logged in, and show as no value."""
    manager = sessions_factory()
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=cart&value=socks")).json()["id"]
    tag = user_tag("admin")
    planted = [
        tornsess.database.Op("set", "\x00user", '"admin"'),
        tornsess.database.Op("set", "\x00handle", f'"{tag}~planted"'),
    ]
    if shape == "full":
        planted += [
            tornsess.database.Op("set", "\x00login", "1700000000.0"),
            tornsess.database.Op("set", "\x00ip", '"10.0.0.1"'),
            tornsess.database.Op("set", "\x00ua", '"curl"'),
        ]
    await manager.database.commit(sid, planted, time.time(), None, None)
    index = manager.database
    assert isinstance(index, tornsess.database.UserIndex)
    await index.index_add(tag, f"{tag}~planted", sid, None)
    info = (await browser.get("/info")).json()
    assert info["id"] == sid
    assert info["user"] is None
    assert info["values"] == {"cart": "socks"}
    assert devices(await browser.get("/devices?user=admin")) == []
    assert await manager.destroy_user("admin") == 0
    assert (await browser.get("/info")).json()["values"] == {"cart": "socks"}  # still there


@pytest.mark.gen_test
async def test_handles_and_index_tags_are_keyed_with_the_encoders_key(
    make_db: Callable[..., Database], serve: Callable[..., Browser]
) -> None:
    """Whoever sees a handle (or a Redis index key) cannot confirm a guessed
    user id without the key; the same key gives the same tags after a
    restart, and a key rotation still finds the sessions of the old key."""
    from tornsess.keys import generate_key

    old_key, new_key = generate_key(), generate_key()
    db = make_db()

    def manager(*keys: str) -> Sessions:
        sessions = Sessions(encoding=SignedEncoder(list(keys)))
        sessions.use_database(db)
        return sessions

    first = manager(old_key)
    browser = serve(make_app(first))
    handle = (await browser.get("/login?user=alice")).json()["handle"]
    tag = handle.split("~")[0]
    assert tag != user_tag("alice")  # the unkeyed hash of a guess does not match
    assert tag == user_tag("alice", SignedEncoder(old_key).derive_keys("user tags")[0])
    restarted = manager(old_key)
    assert [i.handle for i in await restarted.user_sessions("alice")] == [handle]
    rotated = manager(old_key, new_key)  # the new key signs; the old one still verifies
    second = serve(make_app(rotated))
    newer = (await second.get("/login?user=alice")).json()["handle"]
    assert newer.split("~")[0] != tag
    assert {i.handle for i in await rotated.user_sessions("alice")} == {handle, newer}
    assert await rotated.destroy_user("alice") == 2
    assert await rotated.user_sessions("alice") == []


@pytest.mark.gen_test(timeout=120)
async def test_lists_and_revokes_racing_regenerates_never_lose_a_live_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    """A list or a revoke prunes an index entry only while it still points
    at the dead key: one that a concurrent regenerate re-pointed stays, so
    afterwards every live session is listed and destroy_user ends them all.
    ann's sessions race lists; bea's race revokes (destroy_user)."""
    manager = sessions_factory()
    base = serve(make_app(manager))
    browsers = {user: [Browser(base.base_url) for _ in range(4)] for user in ("ann", "bea")}
    for user, group in browsers.items():
        for browser in group:
            await browser.get(f"/login?user={user}")

    async def regenerate(browser: Browser) -> None:
        for _ in range(15):
            await browser.get("/regenerate")

    async def lists() -> None:
        for _ in range(20):
            await manager.user_sessions("ann")

    async def revokes() -> None:
        for _ in range(5):
            await manager.destroy_user("bea")

    everyone = browsers["ann"] + browsers["bea"]
    await asyncio.gather(*(regenerate(b) for b in everyone), lists(), lists(), revokes())
    for user, group in browsers.items():
        live = [(await browser.get("/info")).json()["user"] == user for browser in group].count(
            True
        )
        if user == "ann":
            assert live == len(group)  # nothing destroyed them
        assert len(await manager.user_sessions(user)) == live  # every live one is listed
        assert await manager.destroy_user(user) == live
        for browser in group:
            assert (await browser.get("/info")).json()["user"] is None


# -- cost: O(that user's sessions) ------------------------------------------------------


@pytest.mark.gen_test(timeout=300)
async def test_listing_costs_no_more_with_100000_other_sessions(redis_url: str) -> None:
    prefix = f"cost{uuid.uuid4().hex[:8]}:"
    pool = aioredis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = aioredis.Redis(connection_pool=pool)
    db = RedisDatabase(client=client, prefix=prefix)
    manager = Sessions()
    manager.use_database(db)
    for _ in range(3):
        session_id = new_id()
        record = tornsess.database.Record({}, frozenset(), {}, time.time(), time.time(), None, None)
        assert await db.create(session_id, record)
        handle = f"{user_tag('pat')}~h{session_id[:8]}"
        bound = Binding("pat", handle, user_tag("pat"), time.time())
        await db.commit(
            session_id,
            [tornsess.database.Op("bind", bound.tag, bound.dumps())],
            time.time(),
            None,
            None,
        )
        await db.index_add(user_tag("pat"), handle, session_id, None)

    async def commands_to_list() -> int:
        CountingConnection.reset()
        assert len(await manager.user_sessions("pat")) == 3
        return len(CountingConnection.commands)

    await commands_to_list()  # the server learns the script
    alone = await commands_to_list()
    raw = aioredis.Redis.from_url(redis_url)
    pipe = raw.pipeline(transaction=False)
    for n in range(100_000):
        pipe.hset(f"{prefix}{{{store_key(str(n))}}}", mapping={"_c": "1", "_a": "1", "v:x": "1"})
        if n % 5 == 0:
            tag = user_tag(f"user{n}")
            pipe.hset(f"{prefix}u:{{{tag}}}", f"{tag}~h", store_key(str(n)))
    await pipe.execute()
    among_many = await commands_to_list()
    assert alone == among_many == 1  # one script: the index and its 3 sessions
    await raw.aclose()
    await client.aclose()
    await pool.disconnect()


def test_cluster_index_lives_in_a_slot_of_its_own(redis_cluster: Any) -> None:
    db = RedisDatabase(redis_cluster.url, prefix="slots:")
    index = db.index_key(user_tag("quinn"))
    assert index.startswith("slots:u:{") and user_tag("quinn") in index
    session_keys = [db.key(new_id()) for _ in range(20)]
    assert any(db.client.keyslot(k) != db.client.keyslot(index) for k in session_keys)


@pytest.mark.gen_test(timeout=60)
async def test_last_seen_moves_with_the_idle_refresh(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    # idle 10 s: the store is touched at most once per second.
    manager = sessions_factory(idle_timeout=10)
    browser = serve(make_app(manager))
    await browser.get("/login?user=rita")
    (before,) = devices(await browser.get("/devices"))
    await asyncio.sleep(1.1)
    await browser.get("/get")  # a read past a tenth of the idle timeout: a touch
    (after,) = devices(await browser.get("/devices"))
    assert after["last_seen"] > before["last_seen"]
    assert after["handle"] == before["handle"]


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", ["redis", "cluster"])
async def test_redis_index_lives_as_long_as_its_newest_session(
    kind: str, serve: Callable[..., Browser], request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url" if kind == "redis" else "cluster_url")
    db = RedisDatabase(url, prefix=f"ttl{uuid.uuid4().hex[:8]}:")
    manager = Sessions(idle_timeout=600)
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/login?user=sam&remember=100")
    long_lived = Browser(browser.base_url)
    sid = (await long_lived.get("/login?user=sam")).json()["id"]
    index = db.index_key(user_tag("sam"))
    session_ttl = await db.client.pttl(db.key(sid))
    index_ttl = await db.client.pttl(index)
    assert 590_000 < session_ttl <= 600_000  # the idle timeout
    assert index_ttl >= session_ttl - 1000  # not shorter than its newest session
    await db.close()


@pytest.mark.gen_test
@pytest.mark.parametrize("extend", ["write", "update_expiration", "touch"])
async def test_an_index_lives_as_long_as_a_session_kept_alive_without_a_login(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
    store_kind: str,
    extend: str,
) -> None:
    """A session kept alive only by writes, by update_expiration, or by the
    idle refresh keeps its user's index alive at least as long (Redis: the
    index's expiry moves in the same script, or in a second call on a
    cluster), so it is still listed and still revoked."""
    manager = sessions_factory(idle_timeout=600)
    browser = serve(make_app(manager))
    sid = (await browser.get("/login?user=sam")).json()["id"]
    db = manager.database
    redis_db = db if isinstance(db, RedisDatabase) else None
    if redis_db is not None:
        # As if the login, and so the index's expiry, were long ago.
        index = redis_db.index_key(user_tag("sam"))
        await redis_db.client.pexpire(index, 10_000)
    if extend == "write":
        await browser.get("/set?key=a&value=1")
    elif extend == "update_expiration":
        await browser.get("/update?expires=3600")
    else:
        assert await db.touch(sid, time.time(), time.time() + 900)
    if redis_db is not None:
        session_end = await redis_db.client.pexpiretime(redis_db.key(sid))
        index_end = await redis_db.client.pexpiretime(index)
        assert session_end > time.time() * 1000 + 500_000
        assert index_end >= session_end  # the index outlives the session it lists
    assert [i.handle for i in await manager.user_sessions("sam")] != []
    assert await manager.destroy_user("sam") == 1
    assert (await browser.get("/info")).json()["user"] is None


@pytest.mark.gen_test(timeout=120)
async def test_one_destroy_user_ends_a_session_a_thief_keeps_regenerating(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser], store_kind: str
) -> None:
    """A stolen session whose thief regenerates it again and again cannot
    dodge "log out my other devices": one call ends it (the rename moves the
    index entry in the same step, a list reads the index and its sessions in
    one step, a revoke resolves the entry when it runs). On a Redis Cluster,
    where a session and its index are in different slots and no step spans
    both, a call may miss a session that moves meanwhile; the next call
    ends it (docs/users.rst)."""
    manager = sessions_factory()
    base = serve(make_app(manager))
    for _ in range(5):
        victim, thief = Browser(base.base_url), Browser(base.base_url)
        keep = (await victim.get("/login?user=vic")).json()["handle"]
        await thief.get("/login?user=vic")
        regenerated = 0
        stop = asyncio.Event()

        async def regenerate(thief: Browser = thief, stop: asyncio.Event = stop) -> None:
            nonlocal regenerated
            while not stop.is_set():
                if (await thief.get("/regenerate")).code != 200:
                    return
                regenerated += 1

        running = asyncio.ensure_future(regenerate())
        while regenerated < 3:
            await victim.get("/get")  # let the thief run
        ended = await manager.destroy_user("vic", keep=keep)
        stop.set()
        await running
        if store_kind == "cluster":
            ended += await manager.destroy_user("vic", keep=keep)
        assert ended == 1
        assert (await thief.get("/info")).json()["user"] is None
        assert (await victim.get("/info")).json()["user"] == "vic"
        await manager.destroy_user("vic")
