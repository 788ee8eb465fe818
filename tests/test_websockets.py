"""Sessions on WebSockets: read from the handshake's cookie, stored by
``save()``, re-read by ``refresh()``, and closed (1008) when the session is
destroyed through this process's manager; on every store."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketHandler, websocket_connect

import tornsess
from tests.apps import make_app
from tests.helpers import Browser
from tornsess import SessionMixin, Sessions

NAME = tornsess.DEFAULT_COOKIE_NAME


class Socket(SessionMixin, WebSocketHandler):
    """Commands as JSON messages; answers with what the session holds."""

    def open(self) -> None:
        self.write_message(json.dumps({"opened": self.session.get_all()}))

    async def on_message(self, message: str | bytes) -> None:
        command = json.loads(message)
        try:
            session = self.session
            if command["do"] == "incr":
                session.increment(command.get("key", "n"))
            elif command["do"] == "set":
                session.set(command["key"], command["value"])
            elif command["do"] == "save":
                await session.save()
            elif command["do"] == "refresh":
                await session.refresh()
            elif command["do"] == "regenerate":
                await session.regenerate()
            elif command["do"] == "destroy":
                await session.destroy()
                return
        except tornsess.TornsessError as exc:
            self.write_message(json.dumps({"error": type(exc).__name__}))
            return
        self.write_message(json.dumps({"values": session.get_all(), "user": session.user_id}))


async def connect(browser: Browser, cookie: str | None = None) -> WebSocketClientConnection:
    url = browser.base_url.replace("http://", "ws://") + "/ws"
    if cookie is None:
        cookie = "; ".join(f"{k}={v}" for k, v in browser.jar.items())
    return await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie}))


async def ask(conn: WebSocketClientConnection, **command: Any) -> Any:
    await conn.write_message(json.dumps(command))
    reply = await conn.read_message()
    assert isinstance(reply, str), reply
    return json.loads(reply)


async def opened(conn: WebSocketClientConnection) -> Any:
    reply = await conn.read_message()
    assert isinstance(reply, str), reply
    return json.loads(reply)["opened"]


async def shut(conn: WebSocketClientConnection) -> None:
    """Close from the client and wait for the server's side of it (at once
    if the server closed it first)."""
    closed_by_server = conn.close_code is not None
    conn.close()
    if not closed_by_server:
        while await conn.read_message() is not None:
            pass


def serve_app(serve: Callable[..., Browser], manager: Sessions) -> Browser:
    app = make_app(manager)
    app.add_handlers(r".*", [(r"/ws", Socket)])
    return serve(app)


@pytest.mark.gen_test
async def test_a_socket_reads_the_handshake_session_and_saves_with_save(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = sessions_factory()
    browser = serve_app(serve, manager)
    await browser.get("/set?key=name&value=ada")
    conn = await connect(browser)
    assert await opened(conn) == {"name": "ada"}
    assert (await ask(conn, do="incr"))["values"] == {"name": "ada", "n": 1}
    # Not stored before save(): there is no response to wait for.
    assert (await browser.get("/get")).json()["values"] == {"name": "ada"}
    await ask(conn, do="save")
    assert (await browser.get("/get")).json()["values"] == {"name": "ada", "n": 1}
    # The per-key commit: a page's increments and the socket's add up.
    await browser.get("/incr?key=n&n=10")
    await ask(conn, do="incr")
    await ask(conn, do="save")
    assert (await browser.get("/get")).json()["values"]["n"] == 12
    # An unsaved change is logged when the socket closes.
    await ask(conn, do="set", key="draft", value="lost")
    with caplog.at_level(logging.WARNING, logger="tornsess"):
        await shut(conn)
        for _ in range(100):
            if "unsaved session change" in caplog.text:
                break
            await browser.get("/get")  # let the server see the close
    assert "unsaved session change" in caplog.text
    assert "draft" not in (await browser.get("/get")).json()["values"]


@pytest.mark.gen_test
async def test_refresh_sees_what_other_requests_stored(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()
    browser = serve_app(serve, manager)
    await browser.get("/set?key=a&value=1")
    conn = await connect(browser)
    await opened(conn)
    await browser.get("/set?key=b&value=2")
    assert (await ask(conn, do="incr", key="c"))["values"] == {"a": "1", "c": 1}
    assert (await ask(conn, do="refresh"))["values"] == {"a": "1", "b": "2", "c": 1}
    assert (await browser.get("/get")).json()["values"] == {"a": "1", "b": "2", "c": 1}
    await shut(conn)


@pytest.mark.gen_test
@pytest.mark.parametrize("how", ["logout", "by_id", "user", "handle", "all", "self"])
async def test_a_session_destroyed_through_the_manager_closes_its_sockets(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser], how: str
) -> None:
    manager = sessions_factory()
    browser = serve_app(serve, manager)
    login = (await browser.get("/login?user=ada")).json()
    other = Browser(browser.base_url)
    await other.get("/login?user=bob")
    conn = await connect(browser)
    bystander = await connect(other)
    await opened(conn)
    await opened(bystander)
    if how == "logout":
        await browser.get("/destroy")
    elif how == "by_id":
        assert await manager.destroy_by_id(login["id"])
    elif how == "user":
        assert await manager.destroy_user("ada") == 1
    elif how == "handle":
        assert await manager.destroy_by_handle(login["handle"])
    elif how == "all":
        await manager.destroy_all()
    else:
        await conn.write_message(json.dumps({"do": "destroy"}))
    assert await conn.read_message() is None  # closed by the server
    assert conn.close_code == 1008
    assert conn.close_reason == "session ended"
    await shut(conn)
    if how == "all":
        assert await bystander.read_message() is None
        assert bystander.close_code == 1008
        await shut(bystander)
    else:
        assert (await ask(bystander, do="incr"))["user"] == "bob"  # still open
        await shut(bystander)


@pytest.mark.gen_test
async def test_a_socket_learns_of_a_destroy_elsewhere_at_its_next_save_or_refresh(
    make_db: Callable[..., Any], serve: Callable[..., Browser]
) -> None:
    db = make_db()
    here, elsewhere = Sessions(), Sessions()  # two processes' managers, one store
    here.use_database(db)
    elsewhere.use_database(db)
    browser = serve_app(serve, here)
    login = (await browser.get("/login?user=ada")).json()
    conn = await connect(browser)
    await opened(conn)
    assert await elsewhere.destroy_by_id(login["id"])
    await ask(conn, do="incr")
    assert await ask(conn, do="save") == {"error": "SessionNotFound"}
    assert await ask(conn, do="refresh") == {"error": "SessionNotFound"}
    await shut(conn)


@pytest.mark.gen_test
async def test_what_a_socket_cannot_do_is_refused_with_a_clear_error(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = sessions_factory()
    browser = serve_app(serve, manager)
    anonymous = await connect(browser, cookie="")
    assert await opened(anonymous) == {}
    await ask(anonymous, do="set", key="a", value=1)
    assert await ask(anonymous, do="save") == {"error": "SessionSealed"}
    with caplog.at_level(logging.WARNING, logger="tornsess"):
        await shut(anonymous)
        await browser.get("/get")  # the server has seen the close
    # No advice to save() what could never be saved.
    assert "unsaved session change" not in caplog.text
    await browser.get("/set?key=a&value=1")
    conn = await connect(browser)
    await opened(conn)
    assert await ask(conn, do="regenerate") == {"error": "SessionSealed"}
    assert (await ask(conn, do="incr"))["values"] == {"a": "1", "n": 1}
    await ask(conn, do="save")
    assert (await browser.get("/get")).json()["values"] == {"a": "1", "n": 1}
    await shut(conn)
