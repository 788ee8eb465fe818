"""tornsess.testing on every store: make_session and read_session."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.apps import make_app
from tests.helpers import Browser
from tornsess import Sessions
from tornsess.encoders import SignedEncoder
from tornsess.keys import generate_key
from tornsess.testing import make_session, read_session

KEY = generate_key()


@pytest.mark.gen_test
async def test_make_session_and_read_session_with_a_cookie(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(encoding=SignedEncoder(KEY))
    app = make_app(manager)
    browser = serve(app)
    sent = await make_session(app, {"cart": ["apple"], "n": 1}, user_id="ann")
    name, _, token = sent.partition("=")
    assert name == manager.config.cookie and token.count(".") >= 2
    info = (await browser.get("/info", cookie=sent)).json()
    assert (info["user"], info["values"]) == ("ann", {"cart": ["apple"], "n": 1})
    assert len(await manager.user_sessions("ann")) == 1  # indexed like a login
    written = await browser.get("/incr?key=n", cookie=sent)
    assert await read_session(app, sent) == {"cart": ["apple"], "n": 2}
    assert await read_session(app, token) == {"cart": ["apple"], "n": 2}
    assert written.code == 200
    regenerated = await browser.get("/regenerate", cookie=sent)
    set_cookie = regenerated.headers["Set-Cookie"]
    assert await read_session(app, set_cookie) == {"cart": ["apple"], "n": 2}
    assert await read_session(app, sent) is None  # the old id is dead
    assert await read_session(app, f"{manager.config.cookie}=forged") is None
    anonymous = await make_session(app)
    assert (await browser.get("/info", cookie=anonymous)).json()["user"] is None


@pytest.mark.gen_test
async def test_make_session_gives_the_token_when_the_app_uses_a_header(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(header="X-Session-Token", encoding=SignedEncoder(KEY))
    app = make_app(manager)
    browser = serve(app)
    token = await make_session(app, {"a": 1})
    assert "=" not in token
    got = await browser.get("/get", headers={"X-Session-Token": token})
    assert got.json()["values"] == {"a": 1}
    assert await read_session(app, token) == {"a": 1}


@pytest.mark.gen_test
async def test_make_session_refuses_what_a_session_cannot_hold(
    sessions_factory: Callable[..., Sessions],
) -> None:
    app = make_app(sessions_factory())
    with pytest.raises(TypeError):
        await make_session(app, {"when": object()})
