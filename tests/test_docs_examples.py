"""Every runnable example of the docs, exercised over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from docs.examples import (
    devices,
    flashes,
    login,
    quickstart,
    remember_me,
    values,
    websocket,
    without_mixin,
)
from tests.helpers import Browser

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.gen_test
async def test_quickstart(serve: Callable[..., Browser]) -> None:
    browser = serve(quickstart.make_app())
    assert (await browser.get("/")).text.endswith("1 time(s).")
    assert (await browser.get("/")).text.endswith("2 time(s).")
    assert "quickstart" in browser.jar


@pytest.mark.gen_test
async def test_login(serve: Callable[..., Browser]) -> None:
    browser = serve(login.make_app())
    assert (await browser.get("/me")).code == 401
    response = await browser.post("/login", "user=alice", headers=FORM)
    assert response.text == "welcome alice"
    assert int(response.cookie("app_session")["max-age"]) == 12 * 3600
    assert (await browser.get("/me")).text == "alice"
    assert (await browser.post("/logout", "", headers=FORM)).text == "bye"
    assert (await browser.get("/me")).code == 401
    await login.sessions.wait_for_callbacks()


@pytest.mark.gen_test
async def test_devices(serve: Callable[..., Browser]) -> None:
    laptop = serve(devices.make_app())
    phone, tablet = Browser(laptop.base_url), Browser(laptop.base_url)
    # A person follows every redirect: @authenticated sends them to the
    # login form, which answers, and the login sends them back.
    bounced = await laptop.get("/account")
    assert bounced.code == 302  # @authenticated
    form = await laptop.get(bounced.headers["Location"])
    assert form.code == 200
    assert '<form method="post">' in form.text
    assert 'name="next" value="/account"' in form.text
    for client in (laptop, phone, tablet):
        response = await client.post("/login", "user=alice&remember=on&next=/devices", headers=FORM)
        assert (response.code, response.headers["Location"]) == (302, "/devices")
    assert int(response.cookie("app_session")["max-age"]) == 30 * 24 * 3600
    offsite = await Browser(laptop.base_url).post(
        "/login", "user=eve&next=//evil.example/", headers=FORM
    )
    assert offsite.headers["Location"] == "/account"  # no open redirect
    assert (await laptop.get("/account")).text == "account of alice"
    listed = (await laptop.get("/devices")).json()["devices"]
    assert len(listed) == 3 and sum(d["this device"] for d in listed) == 1
    assert {d["ip"] for d in listed} == {"127.0.0.1"}
    phone_handle = next(
        d["handle"] for d in (await phone.get("/devices")).json()["devices"] if d["this device"]
    )
    revoked = await laptop.post("/revoke", f"handle={phone_handle}", headers=FORM)
    assert revoked.text == "logged out that device"
    assert (await phone.get("/account")).code == 302
    changed = await laptop.post("/password", "", headers=FORM)
    assert changed.text == "password changed; 1 other device(s) logged out"
    assert (await tablet.get("/account")).code == 302
    assert (await laptop.get("/account")).code == 200
    stranger = Browser(laptop.base_url)
    await stranger.post("/login", "user=mallory", headers=FORM)
    refused = await stranger.post("/revoke", f"handle={listed[0]['handle']}", headers=FORM)
    assert refused.code == 404


@pytest.mark.gen_test
async def test_flashes(serve: Callable[..., Browser]) -> None:
    browser = serve(flashes.make_app())
    assert (await browser.post("/save", "", headers=FORM)).code == 302
    assert (await browser.get("/")).text == "Saved!"
    assert (await browser.get("/")).text == "nothing new"


@pytest.mark.gen_test
async def test_remember_me(serve: Callable[..., Browser]) -> None:
    browser = serve(remember_me.make_app())
    plain = await browser.post("/login", "user=a", headers=FORM)
    assert "max-age" not in plain.cookie("tornsessid")
    remembered = await browser.post("/login", "user=a&remember=on", headers=FORM)
    assert int(remembered.cookie("tornsessid")["max-age"]) == 30 * 24 * 3600


@pytest.mark.gen_test
async def test_without_mixin(serve: Callable[..., Browser]) -> None:
    browser = serve(without_mixin.make_app())
    first = await browser.post("/shop/cart", "item=apple", headers=FORM)
    assert first.json() == {"items": ["apple"]}
    assert first.cookie("cart")["path"] == "/shop"
    await browser.post("/shop/cart", "item=pear", headers=FORM)
    assert (await browser.get("/shop/checkout")).json() == {"items": ["apple", "pear"]}


@pytest.mark.gen_test
async def test_values(serve: Callable[..., Browser]) -> None:
    browser = serve(values.make_app())
    first = (await browser.get("/profile")).json()
    assert first == {
        "since": "2026-01-01",
        "balance": "10.50",
        "age": 42,
        "height": 1.8,
        "plan": "free",
        "views": 1,
    }
    assert (await browser.get("/profile")).json()["views"] == 2


@pytest.mark.gen_test
async def test_signed(serve: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from docs.examples import signed
    from tornsess.keys import generate_key

    for version in ("1", "2"):  # as the docstring says: keys from `keygen`
        made = subprocess.run(
            [sys.executable, "-m", "tornsess", "keygen"], capture_output=True, text=True, check=True
        )
        monkeypatch.setenv(f"SESSION_KEY_{version}", made.stdout.strip())
    browser = serve(signed.make_app())
    first = await browser.get("/")
    assert first.text == "visit 1"
    assert first.cookie("tornsessid")["value"].count(".") >= 2
    assert (await browser.get("/")).text == "visit 2"
    keys = [generate_key(), generate_key()]
    boxed = serve(signed.make_secretbox_app(keys))
    assert (await boxed.get("/")).text == "visit 1"
    assert (await boxed.get("/")).text == "visit 2"
    app = signed.make_verify_every_request_app(keys)
    every = serve(app)
    assert (await every.get("/")).text == "visit 1"
    assert (await every.get("/")).text == "visit 2"
    encoder = app.settings["sessions"].config.encoding
    assert encoder._verified == {}


@pytest.mark.gen_test
async def test_custom_store(serve: Callable[..., Browser]) -> None:
    import asyncio

    import demo
    from docs.examples.custom_store import DictDatabase
    from tests.apps import make_app
    from tests.test_demo import walk
    from tornsess import Sessions
    from tornsess.database import Database

    db = DictDatabase()
    assert isinstance(db, Database)
    sessions = demo.make_sessions("signed", "memory", "a custom store secret, long enough")
    sessions.use_database(db)
    await walk(serve(demo.make_app(sessions)))

    manager = Sessions()
    manager.use_database(DictDatabase())
    browser = serve(make_app(manager))
    await browser.get("/set?key=a&value=b")
    cookie = f"tornsessid={browser.jar['tornsessid']}"
    await asyncio.gather(*(browser.get("/incr?key=n", cookie=cookie) for _ in range(20)))
    assert (await browser.get("/get")).json()["values"] == {"a": "b", "n": 20}


@pytest.mark.gen_test
async def test_stores(serve: Callable[..., Browser], tmp_path: Any, redis_url: str) -> None:
    import asyncio

    from docs.examples import stores
    from tornsess import sessions_for

    for where in (str(tmp_path / "cart.db"), redis_url):
        app = stores.make_app(where)
        browser = serve(app)
        first = await browser.post("/cart", "")
        assert first.json() == {"items": 1}
        cookie = f"tornsessid={browser.jar['tornsessid']}"
        await asyncio.gather(*(browser.post("/cart", "", cookie=cookie) for _ in range(9)))
        assert (await browser.post("/cart", "")).json() == {"items": 11}
        await sessions_for(app).database.close()


@pytest.mark.gen_test
async def test_websocket(serve: Callable[..., Browser]) -> None:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    browser = serve(websocket.make_app())
    await browser.get("/?name=ada")
    url = browser.base_url.replace("http://", "ws://") + "/counter"
    conn = await websocket_connect(
        HTTPRequest(url, headers={"Cookie": f"live={browser.jar['live']}"})
    )
    assert await conn.read_message() == "hello ada"
    await conn.write_message("click")
    assert await conn.read_message() == "1"
    await conn.write_message("click")
    assert await conn.read_message() == "2"
    await conn.write_message("refresh")
    assert await conn.read_message() == "2"  # it was saved
    assert (await browser.post("/logout", "", headers=FORM)).text == "bye"
    assert await conn.read_message() is None  # closed by the logout
    assert conn.close_code == 1008
    conn.close()


@pytest.fixture
def app() -> Any:
    """The application pytest-tornado's http_server serves (the testing example's)."""
    from docs.examples import testing

    return testing.make_app()


@pytest.mark.gen_test
async def test_testing_with_pytest_tornado(app: Any, http_client: Any, base_url: str) -> None:
    from docs.examples import testing

    await testing.check_cart_with_pytest_tornado(app, http_client, base_url)


def test_testing_with_async_http_test_case() -> None:
    import io
    import unittest

    from docs.examples.testing import CartTest

    suite = unittest.defaultTestLoader.loadTestsFromTestCase(CartTest)
    result = unittest.TextTestRunner(verbosity=0, stream=io.StringIO()).run(suite)
    assert result.testsRun == 2
    assert result.wasSuccessful(), result.failures + result.errors


@pytest.mark.gen_test
async def test_api_tokens(serve: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from tornsess.keys import generate_key

    monkeypatch.setenv("SESSION_KEY", generate_key())
    from docs.examples import api_tokens

    api_tokens = importlib.reload(api_tokens)  # the key is read at import
    browser = serve(api_tokens.make_app())
    header = "X-Session-Token"
    assert (await browser.get("/me")).code == 401
    login = await browser.post("/login", "user=ann", headers=FORM)
    token = login.json()["token"]
    assert token == login.headers[header]
    assert not login.set_cookies
    assert (await browser.get("/me", headers={header: token})).json() == {"user": "ann"}
    logout = await browser.post("/logout", "", headers={**FORM, header: token})
    assert logout.headers[header] == ""
    assert (await browser.get("/me", headers={header: token})).code == 401


@pytest.mark.gen_test
async def test_renewal(serve: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from tests.test_renewal import old_session, sent_id
    from tornsess import MemoryDatabase
    from tornsess.keys import generate_key

    monkeypatch.setenv("SESSION_KEY", generate_key())
    from docs.examples import renewal

    renewal = importlib.reload(renewal)  # the key is read at import
    manager = renewal.sessions
    manager.use_database(MemoryDatabase())
    browser = serve(renewal.make_app())
    assert (await browser.get("/")).json() == {"views": 1}
    assert not (await browser.get("/")).set_cookies  # a young id is kept
    old, token = await old_session(manager, {"views": 5})  # issued an hour ago
    straggler = f"{manager.config.cookie}={token}"
    renewed = await browser.get("/", cookie=straggler)
    new = sent_id(manager, renewed)
    assert new is not None and new != old
    assert renewed.json() == {"views": 6}
    late = await browser.get("/", cookie=straggler, keep=False)  # in the window
    assert late.json() == {"views": 7} and sent_id(manager, late) == new
