"""Destroy, regenerate, save, on_destroy, persistence timing and store failure."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from tornado.web import Application, RequestHandler

import tornsess
from tests.apps import Base, make_app
from tests.helpers import Browser
from tornsess import MemoryDatabase, SessionMixin, Sessions, StoreUnavailable
from tornsess.database import Op, Record

NAME = tornsess.DEFAULT_COOKIE_NAME


@pytest.mark.gen_test
async def test_regenerate_keeps_data_and_kills_the_old_id(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve(make_app(manager))
    old_cookie = (await browser.get("/set?key=user&value=alice")).cookie(NAME)["value"]
    response = await browser.get("/regenerate")
    body = response.json()
    assert body["old"] == old_cookie
    assert body["new"] != body["old"]
    assert body["values"] == {"user": "alice"}
    assert response.cookie(NAME)["value"] == body["new"]
    assert not await manager.database.exists(body["old"])
    assert (await browser.get("/get")).json()["values"] == {"user": "alice"}
    replay = await browser.fork().get("/get", cookie=f"{NAME}={body['old']}")
    assert replay.json()["is_new"] is True
    assert replay.json()["values"] == {}


@pytest.mark.gen_test
async def test_destroy_then_start_in_the_same_request(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    await browser.get("/set?key=a&value=b")
    response = await browser.get("/destroy-start")
    body = response.json()
    assert body["is_new"] is True
    assert body["new"] != body["old"]
    assert response.cookie(NAME)["value"] == body["new"]
    assert response.set_cookie_lines == [
        line for line in response.set_cookie_lines if body["new"] in line
    ]
    got = (await browser.get("/get")).json()
    assert got == {"id": body["new"], "is_new": False, "values": {"again": True}, "len": 1}


@pytest.mark.gen_test
async def test_session_destroy_leaves_the_cookie(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()

    async def run(h: Base) -> Any:
        sid = h.session.id
        await h.session.destroy()
        try:
            h.session.set("x", 1)
        except tornsess.SessionNotFound:
            pass
        return {"destroyed": sid, "exists": await manager.database.exists(sid)}

    browser = serve(make_app(manager, run=run))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    response = await browser.get("/run")
    assert response.json() == {"destroyed": sid, "exists": False}
    assert response.set_cookies == {}
    after = (await browser.get("/get")).json()
    assert after["is_new"] is True and after["id"] != sid


@pytest.mark.gen_test
async def test_writes_to_a_destroyed_session_raise(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    async def run(h: Base) -> Any:
        session = h.session
        await session.destroy()
        try:
            session.set("x", 1)
        except tornsess.SessionInterrupted:
            return "refused"
        return "accepted"

    browser = serve(make_app(sessions_factory(), run=run))
    await browser.get("/set?key=a&value=b")
    assert (await browser.get("/run")).json() == "refused"


@pytest.mark.gen_test
async def test_destroy_by_id_and_destroy_all(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser], store_kind: str
) -> None:
    manager = sessions_factory()
    destroyed: list[str] = []
    manager.on_destroy(destroyed.append)
    browser = serve(make_app(manager))
    a, b, c = browser.fork(), browser.fork(), browser.fork()
    ids = [(await x.get("/set?key=k&value=v")).json()["id"] for x in (a, b, c)]
    assert await manager.destroy_by_id(ids[0]) is True
    assert await manager.destroy_by_id(ids[0]) is False
    assert await manager.destroy_by_id("not a valid id!") is False
    assert (await a.get("/get")).json()["is_new"] is True
    await manager.destroy_all()
    assert (await b.get("/get")).json()["is_new"] is True
    assert (await c.get("/get")).json()["is_new"] is True
    await manager.wait_for_callbacks()
    # Redis and PostgreSQL hold only hashes of the ids, so destroy_all cannot name them.
    keeps_no_ids = store_kind in ("redis", "cluster", "postgresql")
    assert sorted(destroyed) == sorted(ids[:1] if keeps_no_ids else ids)


@pytest.mark.gen_test
async def test_on_destroy_runs_once_sync_and_async_and_survives_failures(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = sessions_factory()
    sync_calls: list[str] = []
    async_calls: list[str] = []
    release = threading.Event()

    def slow_sync(sid: str) -> None:
        release.wait(10)
        sync_calls.append(sid)

    @manager.on_destroy
    async def async_cb(sid: str) -> None:
        async_calls.append(sid)

    def failing(sid: str) -> None:
        raise RuntimeError("callback failure")

    async def failing_async(sid: str) -> None:
        raise RuntimeError("async callback failure")

    manager.on_destroy(slow_sync)
    manager.on_destroy(failing)
    manager.on_destroy(failing_async)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    destroyed = await browser.get("/destroy")
    assert destroyed.code == 200
    # The slow callback has not finished, yet requests are served.
    assert (await browser.get("/set?key=a&value=b")).code == 200
    assert sync_calls == []
    release.set()
    with caplog.at_level(logging.ERROR, logger="tornsess"):
        await manager.wait_for_callbacks()
    assert sync_calls == [sid]
    assert async_calls == [sid]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("on_destroy callback" in m and "failed" in m for m in messages) == 2


@pytest.mark.gen_test
async def test_changes_are_stored_before_the_response(serve: Callable[..., Browser]) -> None:
    manager = Sessions()
    seen: list[Any] = []

    class Reader(RequestHandler):
        async def get(self) -> None:
            session = await manager.start(self)
            session.set("step", 1)
            self.write("partial ")
            # finish() is deferred until the store has the change
            await self.finish("done")
            record = await manager.database.load(session.id)
            seen.append(None if record is None else dict(record.values))

    app = Application([(r"/", Reader)])
    browser = serve(app)
    response = await browser.get("/")
    assert response.text == "partial done"
    sid = response.cookie(NAME)["value"]
    record = await manager.database.load(sid)
    assert record is not None and record.values == {"step": "1"}
    assert seen == [{"step": "1"}]


@pytest.mark.gen_test
async def test_save_stores_early_and_flush_seals(serve: Callable[..., Browser]) -> None:
    manager = Sessions()
    results: dict[str, Any] = {}

    class Streamer(RequestHandler):
        async def get(self) -> None:
            session = await manager.start(self)
            session.set("a", 1)
            await session.save()
            record = await manager.database.load(session.id)
            results["saved"] = record is not None and dict(record.values)
            session.set("b", 2)
            await self.flush()
            try:
                session.set("c", 3)
                results["after_flush"] = "accepted"
            except tornsess.SessionSealed as exc:
                results["after_flush"] = str(exc)
            self.finish("ok")

    browser = serve(Application([(r"/", Streamer)]))
    response = await browser.get("/")
    assert response.code == 200
    assert results["saved"] == {"a": "1"}
    assert "after the response headers were sent" in results["after_flush"]
    sid = response.cookie(NAME)["value"]
    record = await manager.database.load(sid)
    assert record is not None and dict(record.values) == {"a": "1", "b": "2"}


@pytest.mark.gen_test
async def test_finish_twice_is_refused(serve: Callable[..., Browser]) -> None:
    errors: list[str] = []

    class Twice(Base):
        def get(self) -> None:
            self.session.set("a", 1)
            self.finish("once")
            try:
                self.finish("twice")
            except RuntimeError as exc:
                errors.append(str(exc))

    browser = serve(Application([(r"/", Twice)]))
    response = await browser.get("/")
    assert response.text == "once"
    assert errors == ["finish() called twice"]


@pytest.mark.gen_test
async def test_redirect_in_prepare_stops_the_handler(serve: Callable[..., Browser]) -> None:
    ran: list[str] = []

    class Guarded(Base):
        async def prepare(self) -> None:
            await super().prepare()
            self.session.set("seen", True)
            if not self.session.get("user"):
                self.redirect("/login")

        def get(self) -> None:
            ran.append("get")
            self.finish("secret")

    browser = serve(Application([(r"/", Guarded)]))
    response = await browser.get("/")
    assert response.code == 302
    assert response.headers["Location"] == "/login"
    assert ran == []
    assert NAME in response.set_cookies


class FlakyDatabase(MemoryDatabase):
    """The memory store, with an outage switch (a real store, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("store is down")

    async def load(self, session_id: str) -> Record | None:
        self._check()
        return await super().load(session_id)

    async def create(self, session_id: str, record: Record) -> bool:
        self._check()
        return await super().create(session_id, record)

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        self._check()
        await super().commit(session_id, ops, accessed, deadline, expires_at)


@pytest.mark.gen_test
async def test_store_failure_gives_503_and_no_cookie(
    serve: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> None:
    manager = Sessions()
    db = FlakyDatabase()
    manager.use_database(db)
    browser = serve(make_app(manager))
    await browser.get("/set?key=a&value=b")
    db.down = True
    with caplog.at_level(logging.ERROR):
        at_load = await browser.get("/get")
        fresh = await browser.fork().get("/set?key=x&value=y", cookie="")
    assert at_load.code == 503
    assert at_load.headers["Retry-After"]
    assert at_load.set_cookies == {}
    assert fresh.code == 503  # the commit of a new session failed
    assert fresh.set_cookies == {}
    assert (await browser.get("/nosession")).code == 200
    errors = [r for r in caplog.records if r.name == "tornsess"]
    assert len(errors) == 1  # the first failure; the second falls in the quiet interval
    assert all("unavailable" in r.getMessage() and r.exc_info is None for r in errors)
    db.down = False
    assert (await browser.get("/get")).json()["values"] == {"a": "b"}


@pytest.mark.gen_test
async def test_logout_during_a_slow_request_is_not_undone(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    gate = asyncio.Event()

    async def slow(h: Base) -> Any:
        h.session.set("late", True)
        await gate.wait()
        return "slow done"

    browser = serve(make_app(manager, run=slow))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    slow_request = asyncio.ensure_future(browser.fork().get("/run"))
    await asyncio.sleep(0.05)
    assert (await browser.fork().get("/destroy")).code == 200
    gate.set()
    response = await slow_request
    # Its changes are dropped, it says so (409, as a lost regenerate race),
    # and it sends no cookie that would undo the logout.
    assert response.code == 409
    assert "slow done" not in response.text
    assert response.set_cookies == {}
    assert response.headers["Cache-Control"] == "no-store"
    assert not await manager.database.exists(sid)


@pytest.mark.gen_test
async def test_custom_id_generator_is_validated_and_never_reuses_ids(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
) -> None:
    ids = iter(["fixed-id", "fixed-id", "second-id"])
    manager = sessions_factory(session_id_generator=lambda handler: next(ids))
    browser = serve(make_app(manager))
    assert (await browser.fork().get("/set?key=a&value=1")).json()["id"] == "fixed-id"
    assert (await browser.fork().get("/set?key=a&value=2")).json()["id"] == "second-id"
    record = await manager.database.load("fixed-id")
    assert record is not None and record.values == {"a": '"1"'}

    bad = sessions_factory(session_id_generator=lambda handler: "bad id;")
    response = await serve(make_app(bad)).get("/get")
    assert response.code == 500


@pytest.mark.gen_test
async def test_plain_start_without_mixin_persists(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    assert (await browser.get("/plain")).json() == {"same": True, "plain": 1}
    assert (await browser.get("/plain")).json() == {"same": True, "plain": 2}


@pytest.mark.gen_test
async def test_store_failure_inside_the_handler_gives_503_without_traceback(
    serve: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> None:
    manager = Sessions()
    db = FlakyDatabase()
    manager.use_database(db)

    async def run(h: Base) -> Any:
        h.session.set("x", 1)
        db.down = True
        try:
            await h.session.save()
        finally:
            db.down = False
        return "unreachable"

    browser = serve(make_app(manager, run=run))
    await browser.get("/set?key=a&value=b")
    with caplog.at_level(logging.WARNING):
        response = await browser.get("/run")
    assert response.code == 503
    assert response.headers["Retry-After"]
    assert response.set_cookies == {}
    ours = [r for r in caplog.records if r.name == "tornsess"]
    assert len(ours) == 1 and ours[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info]
    assert (await browser.get("/get")).json()["values"] == {"a": "b"}


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", ["override-after-mixin", "override-before-mixin", "plain-start"])
@pytest.mark.parametrize("store", ["memory", "waiting"])
async def test_a_finish_override_runs_once_and_the_session_is_stored_before_the_response(
    serve: Callable[..., Browser], kind: str, store: str
) -> None:
    # SessionMixin hooks finish() in its class, a plain handler gets
    # instance hooks: either way an application's own finish() override runs
    # once, and the cookie and the stored value are there when it returns.
    calls: list[str] = []
    manager = Sessions()
    if store == "waiting":
        manager.use_database(FlakyDatabase())  # overrides load: started in a coroutine

    class Own(RequestHandler):
        def finish(self, chunk: Any = None) -> Any:
            calls.append(self.request.path)
            self.set_header("X-Own", str(len(calls)))
            return super().finish(chunk)

    class WithMixin(SessionMixin, Own):
        def get(self) -> None:
            self.finish(str(self.session.increment("n")))

    class OverridesMixin(SessionMixin, RequestHandler):
        def get(self) -> None:
            self.finish(str(self.session.increment("n")))

        def finish(self, chunk: Any = None) -> Any:
            calls.append(self.request.path)
            self.set_header("X-Own", str(len(calls)))
            return super().finish(chunk)

    class Plain(Own):
        async def get(self) -> None:
            session = await manager.start(self)
            self.finish(str(session.increment("n")))

    app = make_app(manager)
    handler = {
        "override-after-mixin": WithMixin,
        "override-before-mixin": OverridesMixin,
        "plain-start": Plain,
    }[kind]
    app.wildcard_router.add_rules([(r"/own", handler)])
    browser = serve(app)
    first = await browser.get("/own")
    assert first.code == 200 and first.text == "1"
    assert first.headers["X-Own"] == "1"
    assert "Cookie" in first.headers["Vary"]
    assert first.cookie(manager.config.cookie)["value"]
    second = await browser.get("/own")
    assert second.text == "2" and second.headers["X-Own"] == "2"
    assert calls == ["/own", "/own"]
    assert (await browser.get("/get")).json()["values"] == {"n": 2}


@pytest.mark.gen_test
@pytest.mark.parametrize("mode", ["read", "write", "anonymous", "regenerate", "plain-start"])
async def test_a_finished_request_is_freed_by_reference_counting(
    serve: Callable[..., Browser], mode: str
) -> None:
    # Bare Tornado leaves no reference cycle behind a request; neither may a
    # session (the hooks and the session's handler are let go as it ends).
    import gc
    import weakref

    handlers: list[weakref.ref[Any]] = []

    manager = Sessions()

    class Probe(Base):
        async def get(self) -> None:
            if mode == "write":
                self.session.increment("n")
            elif mode == "regenerate":
                await self.session.regenerate()
            self.finish(str(self.session.get("n")))

        def on_finish(self) -> None:
            handlers.append(weakref.ref(self))

    class PlainProbe(RequestHandler):  # instance hooks, removed at the end
        async def get(self) -> None:
            session = await manager.start(self)
            session.increment("n")
            self.finish(str(session.get("n")))

        def on_finish(self) -> None:
            handlers.append(weakref.ref(self))

    app = make_app(manager)
    app.wildcard_router.add_rules([(r"/probe", PlainProbe if mode == "plain-start" else Probe)])
    browser = serve(app)
    await browser.get("/incr?key=n")
    if mode == "anonymous":
        browser.jar.clear()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            assert (await browser.get("/probe")).code == 200
        await asyncio.sleep(0.01)
        assert len(handlers) == 3
        assert [ref() for ref in handlers] == [None, None, None]
    finally:
        gc.enable()


@pytest.mark.gen_test
@pytest.mark.filterwarnings("ignore:coroutine 'SessionMixin.prepare' was never awaited")
async def test_a_prepare_that_does_not_await_super_fails_alike_on_every_store(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``prepare`` is a coroutine on every store: an override that calls it
    without awaiting it, or not at all, gets the same 500 everywhere, and the
    log says to await it."""

    class NotAwaited(Base):
        def prepare(self) -> None:  # type: ignore[override]
            super().prepare()  # type: ignore[unused-coroutine]  # never awaited

        def get(self) -> None:
            self.finish(str(self.session.get("n")))

    class NotCalled(Base):
        def prepare(self) -> None:  # type: ignore[override]
            pass

        def get(self) -> None:
            self.finish(str(self.session.get("n")))

    manager = sessions_factory()
    browser = serve(Application([(r"/x", NotAwaited), (r"/y", NotCalled)], sessions=manager))
    for path in ("/x", "/y"):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="tornado.application"):
            response = await browser.get(path)
        assert response.code == 500
        assert "await super().prepare()" in caplog.text
        assert NAME not in response.set_cookies


def test_a_handler_that_lists_the_mixin_after_request_handler_is_refused() -> None:
    with pytest.raises(TypeError, match=r"put SessionMixin before RequestHandler"):

        class Wrong(RequestHandler, SessionMixin):  # type: ignore[misc]
            pass

    class Right(SessionMixin, RequestHandler):
        pass

    class Deeper(Right):  # the mixin stays first through inheritance
        pass

    assert Deeper.__mro__.index(SessionMixin) < Deeper.__mro__.index(RequestHandler)
