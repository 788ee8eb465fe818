"""The scenarios of the Iris sessions test suite, through real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.apps import make_app
from tests.helpers import Browser
from tornsess import Sessions

COOKIE = "mycustomsessionid"
VALUES = {"Name": "iris", "Months": "4", "Secret": "dsads£2132215£%%Ssdsa"}


@pytest.mark.gen_test
async def test_set_then_get_all_returns_exactly_them(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE)))
    response = await browser.post("/set", VALUES)
    assert response.code == 200
    assert COOKIE in response.set_cookies
    assert response.json()["is_new"] is True
    got = (await browser.get("/get")).json()
    assert got["values"] == VALUES
    assert got["is_new"] is False


@pytest.mark.gen_test
async def test_cookie_is_shared_with_a_subdomain(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE)))
    response = await browser.post("/set", VALUES, headers={"Host": "example.com"})
    assert response.cookie(COOKIE)["domain"] == "example.com"
    got = (await browser.get("/get", headers={"Host": "subdomain.example.com"})).json()
    assert got["values"] == VALUES


@pytest.mark.gen_test
async def test_destroy_then_a_new_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE)))
    first = (await browser.post("/set", VALUES)).json()["id"]
    destroyed = await browser.get("/destroy")
    assert destroyed.json() == {"was_new": False, "current": False}
    assert destroyed.cookie(COOKIE)["value"] == ""
    assert COOKIE not in browser.jar
    after = await browser.get("/set?key=k&value=v")
    assert after.json()["is_new"] is True
    assert after.json()["id"] != first
    assert COOKIE in after.set_cookies


@pytest.mark.gen_test
async def test_clear_empties_the_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE)))
    await browser.post("/set", VALUES)
    assert (await browser.get("/clear")).json() == {}
    assert (await browser.get("/get")).json()["values"] == {}


@pytest.mark.gen_test
async def test_one_session_object_per_request(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE)))
    assert (await browser.get("/plain")).json() == {"same": True, "plain": 1}
    assert (await browser.get("/plain")).json() == {"same": True, "plain": 2}


@pytest.mark.gen_test
async def test_flash_lifecycle_over_three_requests(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE)))
    flashes = {"Name": "iris-sessions", "Days": "1", "Secret": "dsads£2132215£%%Ssdsa"}
    assert (await browser.post("/flash/set", flashes)).code == 200
    assert (await browser.get("/flash/all")).json() == flashes
    assert (await browser.get("/flash/all")).json() == {}


@pytest.mark.gen_test
async def test_update_expiration_keeps_id_and_sets_max_age(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE, expires=30 * 60, allow_reclaim=True)))
    created = await browser.get("/set?key=logged&value=1")
    assert 29 * 60 <= int(created.cookie(COOKIE)["max-age"]) <= 30 * 60
    sid = created.json()["id"]
    updated = await browser.get(f"/update?expires={24 * 3600}")
    assert updated.json()["id"] == sid
    assert 23 * 3600 <= int(updated.cookie(COOKIE)["max-age"]) <= 24 * 3600
    expires = updated.cookie(COOKIE)["expires"]
    from email.utils import parsedate_to_datetime

    assert abs(parsedate_to_datetime(expires).timestamp() - (time.time() + 24 * 3600)) < 60
    assert (await browser.get("/get")).json()["id"] == sid


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_update_expiration_keeps_one_id(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie=COOKIE, expires=30 * 60, allow_reclaim=True)))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    cookie = f"{COOKIE}={browser.jar[COOKIE]}"
    responses = await asyncio.gather(
        *(browser.get(f"/update?expires={30 * 60}", cookie=cookie, keep=False) for _ in range(200))
    )
    for response in responses:
        assert response.code == 200
        assert response.json()["id"] == sid
        assert response.cookie(COOKIE)["value"] == browser.jar[COOKIE]
        assert 29 * 60 <= int(response.cookie(COOKIE)["max-age"]) <= 30 * 60
    assert (await browser.get("/get")).json()["id"] == sid


@pytest.mark.gen_test
async def test_visit_counter(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory(cookie="mysession_cookie_name")))
    first = await browser.get("/visits")
    assert "mysession_cookie_name" in first.set_cookies
    assert first.text == "1 visit(s)"
    assert (await browser.get("/visits")).text == "2 visit(s)"
    assert (await browser.get("/visits")).text == "3 visit(s)"
