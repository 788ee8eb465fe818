"""Session tokens in a header, for APIs (``Config(header=...)``): every rule
of the cookie path, on every store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.apps import make_app
from tests.helpers import Browser
from tornsess import Sessions
from tornsess.encoders import SignedEncoder
from tornsess.keys import generate_key

HEADER = "X-Session-Token"
OLD_KEY, NEW_KEY = generate_key(), generate_key()


def api(serve: Callable[..., Browser], manager: Sessions) -> Browser:
    return serve(make_app(manager))


@pytest.mark.gen_test
async def test_the_token_travels_in_the_header_and_no_cookie_is_read_or_set(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(header=HEADER, encoding=SignedEncoder(NEW_KEY))
    browser = api(serve, manager)
    created = await browser.get("/set?key=a&value=1")
    token = created.headers[HEADER]
    assert token and token.count(".") >= 2  # a signed token, as the cookie would hold
    assert not created.set_cookies
    assert "X-Session-Token" in created.headers["Vary"]
    assert "Cookie" not in created.headers["Vary"]
    assert created.headers["Cache-Control"] == "no-store"
    read = await browser.get("/get", headers={HEADER: token})
    assert read.json()["values"] == {"a": "1"}
    assert HEADER not in read.headers  # nothing to re-issue
    assert read.headers["Vary"] == "X-Session-Token"
    # The cookie is not a way in when the header is the transport.
    cookie = await browser.get("/get", cookie=f"{manager.config.cookie}={token}")
    assert cookie.json()["is_new"] is True


@pytest.mark.gen_test
async def test_a_login_returns_its_token_and_regenerate_and_destroy_send_theirs(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory(header=HEADER, encoding=SignedEncoder(NEW_KEY))
    browser = api(serve, manager)
    login = await browser.get("/login?user=ann")
    token = login.json()["token"]
    assert token == login.headers[HEADER]  # the body and the header agree
    regenerated = await browser.get("/regenerate", headers={HEADER: token})
    new = regenerated.headers[HEADER]
    assert new != token
    assert (await browser.get("/info", headers={HEADER: token})).json()["user"] is None
    assert (await browser.get("/info", headers={HEADER: new})).json()["user"] == "ann"
    destroyed = await browser.get("/destroy", headers={HEADER: new})
    assert destroyed.headers[HEADER] == ""  # the client drops its token
    assert (await browser.get("/info", headers={HEADER: new})).json()["user"] is None


@pytest.mark.gen_test
async def test_forged_unknown_and_old_key_tokens(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    old = sessions_factory(header=HEADER, encoding=SignedEncoder(OLD_KEY))
    browser = api(serve, old)
    token = (await browser.get("/set?key=a&value=1")).headers[HEADER]
    for forged in (token[:-2] + "xx", "attacker-chosen-id", "", "a" * 5000):
        response = await browser.get("/get", headers={HEADER: forged})
        assert response.code == 200
        assert response.json()["is_new"] is True
    # The same store behind a manager whose newest key is another: the
    # token verifies under the older key and is re-issued under the newest.
    rotated = Sessions(header=HEADER, encoding=SignedEncoder([OLD_KEY, NEW_KEY]))
    rotated.use_database(old.database)
    second = api(serve, rotated)
    reissued = await second.get("/get", headers={HEADER: token})
    assert reissued.json()["values"] == {"a": "1"}
    fresh = reissued.headers[HEADER]
    assert fresh != token
    assert SignedEncoder(NEW_KEY).decode(rotated.config.cookie, fresh) == reissued.json()["id"]
