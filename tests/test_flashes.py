"""Flash messages: readable until read, then gone from the next request on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.apps import make_app
from tests.helpers import Browser
from tornsess import Sessions


@pytest.mark.gen_test
async def test_read_flash_stays_for_the_request_then_goes(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    await browser.post("/flash/set", {"m": "hello"})
    assert (await browser.get("/flash/get?key=m")).json() == ["hello", "hello", True]
    assert (await browser.get("/flash/get?key=m")).json() == [None, None, False]


@pytest.mark.gen_test
async def test_unread_or_peeked_flash_survives(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    await browser.post("/flash/set", {"m": "kept"})
    for _ in range(4):
        assert (await browser.get("/flash/peek?key=m")).json() == "kept"
        assert (await browser.get("/flash/has")).json() is True
        assert (await browser.get("/get")).code == 200
    assert (await browser.get("/flash/string?key=m")).json() == "kept"
    assert (await browser.get("/flash/string?key=m")).json() == ""


@pytest.mark.gen_test
async def test_flash_string_of_a_non_string_marks_it_read(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    await browser.post("/flash/set", {"n": 5})
    assert (await browser.get("/flash/string?key=n")).json() == ""
    assert (await browser.get("/flash/peek?key=n")).json() is None


@pytest.mark.gen_test
async def test_delete_and_clear_act_at_once(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    await browser.post("/flash/set", {"a": 1, "b": 2, "c": 3})
    assert (await browser.get("/flash/delete?key=a")).json() == {"b": 2, "c": 3}
    await browser.post("/flash/set", {"d": 4})
    assert (await browser.get("/flash/clear")).json() == {}
    assert (await browser.get("/flash/has")).json() is False


@pytest.mark.gen_test
async def test_flashes_are_stored_with_the_session(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(make_app(sessions_factory()))
    await browser.post("/flash/set", {"m": "x"})
    # Another browser holding the same cookie (as another process would) sees it.
    other = browser.fork()
    assert (await other.get("/flash/peek?key=m")).json() == "x"
    assert (await other.get("/flash/all")).json() == {"m": "x"}
    assert (await browser.get("/flash/all")).json() == {}
