"""The session cookie: attributes, Domain, options, reclaim and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tornsess
from tests.apps import Base, make_app
from tests.helpers import Browser
from tornsess import Sessions

NAME = tornsess.DEFAULT_COOKIE_NAME


@pytest.mark.gen_test
async def test_default_attributes(serve: Callable[..., Browser]) -> None:
    browser = serve(make_app())
    response = await browser.get("/set?key=a&value=b")
    cookie = response.cookie(NAME)
    assert cookie["path"] == "/"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] is False
    assert "domain" not in cookie  # 127.0.0.1: host-only
    assert int(cookie["max-age"]) == tornsess.BROWSER_MAX_AGE
    assert "expires" in cookie
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers["Vary"]
    assert len(cookie["value"]) == 43


@pytest.mark.gen_test
async def test_no_cookie_for_an_unused_or_read_only_session(serve: Callable[..., Browser]) -> None:
    browser = serve(make_app())
    response = await browser.get("/get")
    assert response.set_cookies == {}
    assert response.headers["Vary"] == "Cookie"
    plain = await browser.get("/nosession")
    assert "Vary" not in plain.headers
    assert plain.set_cookies == {}


@pytest.mark.gen_test
async def test_save_uninitialized_restores_the_iris_behaviour(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(make_app(Sessions(save_uninitialized=True)))
    first = await browser.get("/get")
    assert NAME in first.set_cookies
    second = (await browser.get("/get")).json()
    assert second["is_new"] is False
    assert second["id"] == first.cookie(NAME)["value"]


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("www.example.org.cn", "example.org.cn"),
        ("user.github.io", "user.github.io"),
        ("127.0.0.1:8080", None),
        ("[::1]:8080", None),
        ("10.0.0.5", None),
        ("localhost:8888", None),
        ("myhost", None),
        ("co.uk", None),
    ],
)
async def test_domain_is_the_registrable_domain(
    serve: Callable[..., Browser], host: str, domain: str | None
) -> None:
    browser = serve(make_app())
    cookie = (await browser.get("/set?key=a&value=b", headers={"Host": host})).cookie(NAME)
    assert cookie.get("domain") == domain


@pytest.mark.gen_test
async def test_disable_subdomain_persistence_gives_host_only(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(make_app(Sessions(disable_subdomain_persistence=True)))
    headers = {"Host": "www.example.com"}
    cookie = (await browser.get("/set?key=a&value=b", headers=headers)).cookie(NAME)
    assert "domain" not in cookie


@pytest.mark.gen_test
async def test_secure_follows_the_request_protocol(serve: Callable[..., Browser]) -> None:
    browser = serve(make_app(), xheaders=True)
    https = await browser.get("/set?key=a&value=b", headers={"X-Forwarded-Proto": "https"})
    assert https.cookie(NAME)["secure"] is True
    plain = await browser.fork().get("/set?key=a&value=b", cookie="")
    assert plain.cookie(NAME)["secure"] is False
    off = serve(make_app(Sessions(cookie_secure_tls=False, same_site="Strict")), xheaders=True)
    response = await off.get("/set?key=a&value=b", headers={"X-Forwarded-Proto": "https"})
    assert response.cookie(NAME)["secure"] is False
    assert response.cookie(NAME)["samesite"] == "Strict"


@pytest.mark.gen_test
async def test_config_fields_shape_the_cookie(serve: Callable[..., Browser]) -> None:
    manager = Sessions(
        cookie="__Host-sid",
        disable_subdomain_persistence=True,
        http_only=False,
        same_site=None,
        expires=-1,
    )
    browser = serve(make_app(manager))
    cookie = (await browser.get("/set?key=a&value=b")).cookie("__Host-sid")
    assert cookie["secure"] is True  # required by the __Host- prefix
    assert cookie["httponly"] is False
    assert "samesite" not in cookie
    assert "max-age" not in cookie
    assert "expires" not in cookie


@pytest.mark.gen_test
async def test_cookie_options_adjust_attributes(serve: Callable[..., Browser]) -> None:
    manager = Sessions()
    options = (
        tornsess.cookie_path("/app"),
        tornsess.cookie_domain(".Example.COM"),
        tornsess.cookie_same_site("strict"),
        tornsess.cookie_http_only(False),
        tornsess.cookie_secure(),
        tornsess.cookie_expires(60),
    )

    async def run(h: Base) -> Any:
        await manager.destroy(h)
        session = await manager.start(h, *options)
        session.set("x", 1)
        return session.id

    browser = serve(make_app(manager, run=run))
    response = await browser.get("/run")
    assert response.code == 200
    cookie = response.cookie(NAME)
    assert cookie["path"] == "/app"
    assert cookie["domain"] == "example.com"
    assert cookie["samesite"] == "Strict"
    assert cookie["httponly"] is False
    assert cookie["secure"] is True
    assert cookie["max-age"] == "60"

    async def destroy(h: Base) -> Any:
        await manager.start(h, *options)
        await manager.destroy(h)
        return "gone"

    browser2 = serve(make_app(manager, run=destroy))
    browser2.jar = dict(browser.jar)
    deleted = (await browser2.get("/run")).cookie(NAME)
    assert deleted["value"] == ""
    assert deleted["path"] == "/app"
    assert deleted["domain"] == "example.com"


@pytest.mark.gen_test
async def test_decorator_options_apply(serve: Callable[..., Browser]) -> None:
    browser = serve(make_app())
    assert (await browser.get("/decorated")).text == "1"
    assert (await browser.get("/decorated")).text == "2"


@pytest.mark.gen_test
async def test_allow_reclaim_makes_the_cookie_visible_in_the_request(
    serve: Callable[..., Browser],
) -> None:
    def make(reclaim: bool) -> Browser:
        manager = Sessions(allow_reclaim=reclaim)

        async def run(h: Base) -> Any:
            h.session.set("a", 1)
            await h.session.save()
            after_save = h.get_cookie(NAME)
            await manager.destroy(h)
            return {"after_save": after_save, "after_destroy": h.get_cookie(NAME)}

        return serve(make_app(manager, run=run))

    with_reclaim = (await make(True).get("/run")).json()
    assert with_reclaim["after_save"] is not None
    assert with_reclaim["after_destroy"] is None
    without = (await make(False).get("/run")).json()
    assert without == {"after_save": None, "after_destroy": None}


GARBAGE = [
    "",
    "garbage",
    "A" * 10240,
    "\xff\xfe\x80abc",
    "bad value with spaces",
    '"quoted"',
    "../../etc/passwd",
    "x" * 129,
    "*",
    "%00",
]


@pytest.mark.gen_test
async def test_garbage_cookies_give_a_fresh_session_never_500(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(make_app())
    for value in GARBAGE:
        raw = f"{NAME}={value}".encode("latin-1")
        response = await browser.client.fetch(
            browser.base_url + "/get",
            headers={"Cookie": raw.decode("latin-1")},
            raise_error=False,
        )
        assert response.code == 200, value
        import json

        body = json.loads(response.body)
        assert body["is_new"] is True
        assert body["values"] == {}
        assert body["id"] != value


@pytest.mark.gen_test
async def test_unknown_well_formed_id_is_never_adopted(serve: Callable[..., Browser]) -> None:
    manager = Sessions()
    browser = serve(make_app(manager))
    attacker = "attacker-chosen-id"
    response = await browser.get("/set?key=a&value=b", cookie=f"{NAME}={attacker}")
    assert response.json()["is_new"] is True
    assert response.json()["id"] != attacker
    assert response.cookie(NAME)["value"] != attacker
    assert not await manager.database.exists(attacker)


@pytest.mark.gen_test
async def test_duplicated_session_cookies(serve: Callable[..., Browser]) -> None:
    browser = serve(make_app())
    one = browser.fork()
    two = browser.fork()
    first = (await one.get("/set?key=who&value=one")).json()["id"]
    second = (await two.get("/set?key=who&value=two")).json()["id"]
    # Two live sessions: ambiguous, so neither is adopted.
    both = await browser.get("/get", cookie=f"{NAME}={first}; {NAME}={second}")
    assert both.code == 200
    assert both.json()["is_new"] is True
    assert both.json()["id"] not in (first, second)
    # The same value twice, or garbage beside a live one, is not ambiguous.
    same = await browser.get("/get", cookie=f"{NAME}={first}; {NAME}={first}")
    assert same.json()["id"] == first
    mixed = await browser.get("/get", cookie=f"{NAME}=garbage; {NAME}={first}")
    assert mixed.json()["id"] == first
    # Garbage twice: fresh.
    bad = await browser.get("/get", cookie=f"{NAME}=bad1; {NAME}=bad2")
    assert bad.json()["is_new"] is True
    # Two Cookie header lines are both read.
    lines = await browser.client.fetch(
        browser.base_url + "/get",
        headers=__import__("tornado.httputil").httputil.HTTPHeaders(
            [("Cookie", "other=1"), ("Cookie", f"{NAME}={first}")]
        ),
    )
    import json

    assert json.loads(lines.body)["id"] == first


@pytest.mark.gen_test
async def test_cookie_name_is_matched_exactly(serve: Callable[..., Browser]) -> None:
    browser = serve(make_app())
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    for name in (NAME.upper(), f" {NAME}x", "TORNSESSID"):
        response = await browser.get("/get", cookie=f"{name}={sid}")
        assert response.json()["is_new"] is True
    quoted = await browser.get("/get", cookie=f'{NAME}="{sid}"')
    assert quoted.json()["id"] == sid


@pytest.mark.gen_test
async def test_cookie_tossing_cannot_pad_the_real_cookie_past_the_check(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    """A sibling subdomain sets junk values and its own live session, placed
    first by longer Paths: the victim never runs as the attacker's account."""
    manager = sessions_factory()
    browser = serve(make_app(manager))
    victim, attacker = browser.fork(), browser.fork()
    await victim.get("/login?user=victim")
    await attacker.get("/login?user=attacker")
    own, theirs = victim.jar[NAME], attacker.jar[NAME]
    junk = [f"{NAME}=junk{i}" for i in range(3)]
    padded = "; ".join([*junk, f"{NAME}={theirs}", f"{NAME}={own}"])
    tossed = await browser.get("/info", cookie=padded)
    assert tossed.code == 200
    assert tossed.json()["user"] is None  # a fresh session, not the attacker's
    # Four values are all checked: the junk does not verify, two live
    # sessions are ambiguous, one alone is used.
    four = "; ".join([*junk[:2], f"{NAME}={theirs}", f"{NAME}={own}"])
    assert (await browser.get("/info", cookie=four)).json()["user"] is None
    alone = "; ".join([*junk, f"{NAME}={own}"])
    assert (await browser.get("/info", cookie=alone)).json()["user"] == "victim"
    # More than four, even if only one is live: fail closed.
    five = "; ".join([*junk, f"{NAME}=junk9", f"{NAME}={own}"])
    assert (await browser.get("/info", cookie=five)).json()["user"] is None
