"""Id renewal with a grace window (``Config(renew_after=..., renew_grace=...)``),
through real HTTP requests, on every store.

Sessions are made "old" by storing them with an ``issued`` time an hour in
the past, so that no test waits for ``renew_after`` to pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from tornado.web import Application

from tests.apps import Base, make_app
from tests.helpers import Browser
from tornsess import ConfigError, SessionInterrupted, Sessions, codec
from tornsess.database import Binding, Op, Record, Renewable, UserIndex
from tornsess.encoders import SignedEncoder
from tornsess.errors import SessionMoved
from tornsess.ids import new_handle, new_id, open_successor, seal_successor
from tornsess.keys import generate_key

KEY = generate_key()
HOUR = 3600.0


def renewing(sessions_factory: Callable[..., Sessions], **config: Any) -> Sessions:
    config.setdefault("renew_after", 600)
    config.setdefault("renew_grace", 30)
    return sessions_factory(encoding=SignedEncoder(KEY), **config)


async def old_session(
    manager: Sessions,
    values: dict[str, Any],
    user: str | None = None,
    age: float = HOUR,
    deadline: float | None = None,
) -> tuple[str, str]:
    """Store a session whose id was issued *age* seconds ago; return its id
    and its token."""
    now = time.time()
    sid = new_id()
    binding = None
    if user is not None:
        tag = manager._path.user_tags(user)[0]
        binding = Binding(user, new_handle(tag), tag, now - age)
    record = Record(
        {key: codec.dumps(value) for key, value in values.items()},
        frozenset(),
        {},
        now - age,
        now,
        deadline,
        deadline,
        None if binding is None else binding.dumps(),
        issued=now - age,
    )
    db = manager.database
    assert await db.create(sid, record)
    if binding is not None:
        assert isinstance(db, UserIndex)
        await db.index_add(binding.tag, binding.handle, sid, None)
    return sid, manager.config.effective_encoding.encode(manager.config.cookie, sid)


class Handle(Base):
    def get(self) -> None:
        s = self.session
        self.reply(
            {
                "id": s.id,
                "handle": s.handle,
                "user": s.user_id,
                "values": s.get_all(),
                "token": s.token,
            }
        )


def app(manager: Sessions) -> Application:
    application = make_app(manager)
    application.add_handlers(r".*", [(r"/handle", Handle)])
    return application


def cookie_of(manager: Sessions, token: str) -> str:
    return f"{manager.config.cookie}={token}"


def sent_id(manager: Sessions, response: Any) -> str | None:
    """The session id a response's Set-Cookie carries, or ``None``."""
    attrs = response.set_cookies.get(manager.config.cookie)
    if attrs is None or not attrs["value"]:
        return None
    return manager.config.effective_encoding.decode(manager.config.cookie, attrs["value"])


@pytest.mark.gen_test
async def test_an_old_id_is_renewed_and_values_login_and_handle_carry_over(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    old, token = await old_session(manager, {"cart": [1, 2]}, user="ann")
    before = await manager.user_sessions("ann")
    renewed = await browser.get("/handle", cookie=cookie_of(manager, token))
    new = sent_id(manager, renewed)
    assert new is not None and new != old
    body = renewed.json()
    assert body["id"] == new  # the handler's session moved with it
    assert body["user"] == "ann"
    assert body["values"] == {"cart": [1, 2]}
    assert body["handle"] == before[0].handle  # the device keeps its handle
    # The new id is fresh: the next request renews nothing.
    again = await browser.get("/handle")
    assert again.json()["id"] == new
    assert sent_id(manager, again) is None
    devices = await manager.user_sessions("ann")
    assert [d.handle for d in devices] == [before[0].handle]


@pytest.mark.gen_test
async def test_a_young_id_is_not_renewed_and_nothing_is_sent(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    created = await browser.get("/set?key=a&value=1")
    sid = sent_id(manager, created)
    read = await browser.get("/get")
    assert read.json()["id"] == sid
    assert not read.set_cookies


@pytest.mark.gen_test
async def test_stragglers_with_the_old_id_read_and_write_the_renewed_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    old, token = await old_session(manager, {"n": 1})
    straggler = cookie_of(manager, token)
    new = sent_id(manager, await browser.get("/get", cookie=straggler))
    assert new is not None and new != old
    # A write under the new id is what the old id reads.
    await browser.get("/set?key=seen&value=new")
    read = await browser.get("/get", cookie=straggler, keep=False)
    assert read.json()["values"] == {"n": 1, "seen": "new"}
    assert read.json()["id"] == new
    assert sent_id(manager, read) == new  # the straggler catches up
    # A write under the old id lands in the renewed session.
    wrote = await browser.get("/incr?key=n&n=5", cookie=straggler, keep=False)
    assert wrote.json()["value"] == 6
    assert sent_id(manager, wrote) == new
    assert (await browser.get("/get")).json()["values"] == {"n": 6, "seen": "new"}


@pytest.mark.gen_test
async def test_after_the_grace_window_the_old_id_is_unknown(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory, renew_grace=0.5)
    browser = serve(app(manager))
    _, token = await old_session(manager, {"n": 1})
    new = sent_id(manager, await browser.get("/get", cookie=cookie_of(manager, token)))
    assert new is not None
    await asyncio.sleep(0.8)
    late = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
    assert late.json()["is_new"] is True
    assert late.json()["values"] == {}
    assert (await browser.get("/get")).json()["values"] == {"n": 1}  # the new id lives on


@pytest.mark.gen_test
async def test_no_grace_window_when_it_is_zero(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory, renew_grace=0)
    browser = serve(app(manager))
    _, token = await old_session(manager, {"n": 1})
    assert sent_id(manager, await browser.get("/get", cookie=cookie_of(manager, token)))
    late = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
    assert late.json()["is_new"] is True


@pytest.mark.gen_test
async def test_concurrent_requests_end_on_one_new_id(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    for _ in range(3):
        old, token = await old_session(manager, {"n": 0})
        responses = await asyncio.gather(
            *(
                browser.get("/incr?key=n", cookie=cookie_of(manager, token), keep=False)
                for _ in range(6)
            )
        )
        ids = {sent_id(manager, response) for response in responses}
        assert len(ids) == 1, ids
        (new,) = ids
        assert new is not None and new != old
        assert {response.json()["id"] for response in responses} == {new}
        # One session, under the new id, with every request's write in it.
        read = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
        assert read.json()["id"] == new and read.json()["values"] == {"n": 6}


@pytest.mark.gen_test
async def test_a_store_renews_once_for_concurrent_callers(make_db: Callable[..., Any]) -> None:
    db = make_db()
    assert isinstance(db, Renewable)
    store: Any = db  # a Database and Renewable
    for _ in range(3):
        old = new_id()
        now = time.time()
        assert await store.create(old, Record({"a": "1"}, frozenset(), {}, now, now, None, None))
        candidates = [new_id() for _ in range(4)]
        results = await asyncio.gather(
            *(store.renew(old, new, seal_successor(old, new), now, now + 30) for new in candidates)
        )
        assert results.count(True) == 1
        winner = candidates[results.index(True)]
        for result in results:
            assert result is True or open_successor(old, str(result)) == winner
        record = await store.load(old)
        assert record is not None and record.successor is not None
        assert open_successor(old, record.successor) == winner
        assert dict(record.values) == {"a": "1"}
        direct = await store.load(winner)
        assert direct is not None and direct.successor is None
        assert direct.issued == pytest.approx(now)
        for loser in candidates:
            if loser != winner:
                assert await store.load(loser) is None
        # Nothing is written under the old id; the store says where to go.
        with pytest.raises(SessionMoved) as moved:
            await store.commit(old, [Op("set", "b", "2")], now, None, None)
        assert open_successor(old, moved.value.successor) == winner
        with pytest.raises(SessionMoved):
            await store.touch(old, now, None)
        with pytest.raises(SessionMoved):
            await store.rename(old, new_id(), now)
        with pytest.raises(SessionMoved):
            await store.destroy(old)
        assert await store.exists(old)
        assert not await store.create(old, Record({}, frozenset(), {}, now, now, None, None))
        assert dict((await store.load(winner)).values) == {"a": "1"}


@pytest.mark.gen_test
async def test_a_store_renames_with_the_issued_time_and_no_alias(
    make_db: Callable[..., Any],
) -> None:
    db: Any = make_db()
    now = time.time()
    old, new = new_id(), new_id()
    assert await db.create(old, Record({}, frozenset(), {}, now - HOUR, now, None, None))
    assert (await db.load(old)).issued == pytest.approx(now - HOUR)
    assert await db.rename(old, new, now)
    assert await db.load(old) is None
    assert not await db.exists(old)
    assert (await db.load(new)).issued == pytest.approx(now)
    # A renewal with its window already over leaves no alias either.
    newer = new_id()
    assert await db.renew(new, newer, seal_successor(new, newer), now, now - 1) is True
    assert await db.load(new) is None
    assert (await db.load(newer)) is not None
    # A session gone is gone.
    with pytest.raises(SessionInterrupted):
        await db.renew(new_id(), new_id(), "x", now, now + 30)


@pytest.mark.gen_test
async def test_login_and_regenerate_leave_no_grace_window(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    for path in ("/regenerate", "/login?user=bob"):
        old, token = await old_session(manager, {"n": 1})
        moved = await browser.get(path, cookie=cookie_of(manager, token), keep=False)
        new = sent_id(manager, moved)
        assert new is not None and new != old
        late = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
        assert late.json()["is_new"] is True, path  # the old id died at once
        # The new id was issued now: it is not renewed again.
        fresh = await browser.get(
            "/get",
            cookie=cookie_of(manager, moved.set_cookies[manager.config.cookie]["value"]),
            keep=False,
        )
        assert fresh.json()["id"] == new and sent_id(manager, fresh) is None


@pytest.mark.gen_test
async def test_a_straggler_logging_out_ends_the_renewed_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    _, token = await old_session(manager, {"n": 1}, user="ann")
    new = sent_id(manager, await browser.get("/get", cookie=cookie_of(manager, token)))
    assert new is not None
    await browser.get("/destroy", cookie=cookie_of(manager, token), keep=False)
    assert (await browser.get("/get")).json()["is_new"] is True
    assert await manager.user_sessions("ann") == []


@pytest.mark.gen_test
async def test_revokes_reach_a_renewed_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory)
    browser = serve(app(manager))
    old, token = await old_session(manager, {"n": 1}, user="ann")
    new = sent_id(manager, await browser.get("/get", cookie=cookie_of(manager, token)))
    assert new is not None
    assert len(await manager.user_sessions("ann")) == 1
    assert await manager.destroy_user("ann") == 1
    assert (await browser.get("/get")).json()["is_new"] is True
    # destroy_by_id with the old id, in its window, ends the renewed session.
    old, token = await old_session(manager, {"n": 1})
    other = browser.fork()
    new = sent_id(manager, await other.get("/get", cookie=cookie_of(manager, token)))
    assert new is not None
    assert await manager.destroy_by_id(old) is True
    assert (await other.get("/get")).json()["is_new"] is True


@pytest.mark.gen_test
async def test_renewal_with_tokens_in_a_header(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    header = "X-Session-Token"
    manager = renewing(sessions_factory, header=header)
    browser = serve(app(manager))
    old, token = await old_session(manager, {"n": 1})
    renewed = await browser.get("/get", headers={header: token})
    fresh = renewed.headers[header]
    assert fresh and fresh != token
    new = manager.config.effective_encoding.decode(manager.config.cookie, fresh)
    assert new != old and renewed.json()["id"] == new
    straggler = await browser.get("/incr?key=n", headers={header: token})
    # The same id; the token itself may differ, if its signature's timestamp
    # is of a later second.
    caught_up = straggler.headers[header]
    assert manager.config.effective_encoding.decode(manager.config.cookie, caught_up) == new
    read = await browser.get("/get", headers={header: fresh})
    assert read.json()["values"] == {"n": 2}
    assert header not in read.headers


@pytest.mark.gen_test
async def test_renewal_keeps_the_sessions_deadline(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = renewing(sessions_factory, expires=7200)
    browser = serve(app(manager))
    deadline = time.time() + 5000
    old, token = await old_session(manager, {"n": 1}, deadline=deadline)
    renewed = await browser.get("/info", cookie=cookie_of(manager, token))
    assert sent_id(manager, renewed) not in (None, old)
    assert renewed.json()["expires_at"] == pytest.approx(deadline, abs=0.01)
    max_age = int(renewed.set_cookies[manager.config.cookie]["max-age"])
    assert 4990 <= max_age <= 5000  # the cookie follows the same deadline


def test_renew_config_is_checked() -> None:
    from datetime import timedelta

    from tornsess import Config

    config = Config(renew_after=timedelta(minutes=15), renew_grace=timedelta(seconds=10))
    assert config.renew_after_seconds == 900.0
    assert config.renew_grace_seconds == 10.0
    assert Config().renew_after_seconds is None
    assert Config().renew_grace_seconds == 30.0
    for bad in (
        {"renew_after": 0},
        {"renew_after": -5},
        {"renew_after": 60, "renew_grace": -1},
        {"renew_after": 10, "renew_grace": 30},
        {"renew_after": "soon"},
    ):
        with pytest.raises(ConfigError):
            Config(**bad)


def test_a_store_that_cannot_renew_is_refused() -> None:
    class Minimal:  # the Database protocol alone, no renew()
        async def load(self, session_id: str) -> None:
            return None

        async def create(self, session_id: str, record: Any) -> bool:
            return False

        async def commit(self, *args: Any) -> None:
            return None

        async def touch(self, *args: Any) -> bool:
            return False

        async def rename(self, old_id: str, new_id: str) -> bool:
            return False

        async def exists(self, session_id: str) -> bool:
            return False

        async def destroy(self, session_id: str) -> bool:
            return False

        async def destroy_all(self) -> list[str]:
            return []

        def set_expire_listener(self, listener: Any) -> None:
            return None

        async def close(self) -> None:
            return None

    manager = Sessions(renew_after=60)
    with pytest.raises(ConfigError, match="renew"):
        manager.use_database(Minimal())
    Sessions().use_database(Minimal())  # fine without renewal


def test_a_successor_opens_only_with_its_old_id() -> None:
    old, new, other = new_id(), new_id(), new_id()
    sealed = seal_successor(old, new)
    assert open_successor(old, sealed) == new
    assert old not in sealed and new not in sealed
    assert open_successor(other, sealed) is None
    assert open_successor(old, sealed[:-4] + "AAAA") is None
    assert open_successor(old, "not sealed at all") is None
    assert open_successor(old, "") is None
    assert seal_successor(old, new) != sealed  # a fresh nonce each time


@pytest.mark.gen_test
async def test_websockets_across_a_renewal(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    from tests.test_websockets import Socket, ask, connect, opened, shut

    manager = renewing(sessions_factory)
    application = app(manager)
    application.add_handlers(r".*", [(r"/ws", Socket)])
    browser = serve(application)
    old, token = await old_session(manager, {"n": 1})
    straggler = cookie_of(manager, token)
    # A handshake never renews: no cookie can follow a WebSocket.
    early = await connect(browser, straggler)
    assert await opened(early) == {"n": 1}
    # A page request renews; the socket opened before goes on under the new id.
    new = sent_id(manager, await browser.get("/get", cookie=straggler))
    assert new is not None and new != old
    assert (await ask(early, do="incr"))["values"] == {"n": 2}
    assert (await ask(early, do="save"))["values"] == {"n": 2}
    # A socket opened with the old id in its window runs on the renewed session.
    late = await connect(browser, straggler)
    assert await opened(late) == {"n": 2}
    # Destroying the renewed session closes both (1008).
    assert await manager.destroy_by_id(new) is True
    for conn in (early, late):
        assert await conn.read_message() is None
        assert conn.close_code == 1008
        await shut(conn)


@pytest.mark.gen_test
async def test_the_handler_gets_the_token_the_response_sends(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    header = "X-Session-Token"
    manager = renewing(sessions_factory, header=header)
    browser = serve(app(manager))
    _, token = await old_session(manager, {"n": 1})
    renewed = await browser.get("/handle", headers={header: token})
    assert renewed.json()["token"] == renewed.headers[header] != token
    # A straggler's handler, too, gets the token its response sends.
    straggler = await browser.get("/handle", headers={header: token})
    assert straggler.json()["token"] == straggler.headers[header]
    new = manager.config.effective_encoding.decode(manager.config.cookie, straggler.headers[header])
    assert new == renewed.json()["id"] == straggler.json()["id"]


@pytest.mark.gen_test
async def test_a_generator_that_gives_taken_ids_leaves_the_id_as_it_is(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    taken: list[str] = []

    def generator(handler: Any) -> str:
        return taken[0] if taken else new_id()

    manager = renewing(sessions_factory, session_id_generator=generator)
    browser = serve(app(manager))
    old, token = await old_session(manager, {"n": 1})
    taken.append(old)  # every id it gives is in use
    for _ in range(2):  # not a 500, now or on the next request
        response = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
        assert response.code == 200
        assert response.json() == {"id": old, "is_new": False, "values": {"n": 1}, "len": 1}
        assert not response.set_cookies
    taken.clear()  # a generator that works again renews it
    renewed = await browser.get("/get", cookie=cookie_of(manager, token), keep=False)
    assert sent_id(manager, renewed) not in (None, old)
