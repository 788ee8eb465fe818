"""Concurrent requests on one session: no lost updates."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import tornsess
from tests.apps import Base, make_app
from tests.helpers import Browser
from tornsess import Sessions

NAME = tornsess.DEFAULT_COOKIE_NAME


def slow_app(manager: Sessions) -> Any:
    async def run(h: Base) -> Any:
        key = h.get_argument("key")
        if h.get_argument("op") == "incr":
            h.session.increment(key)
        else:
            h.session.set(key, True)
        await asyncio.sleep(0.01)  # let the other requests load the same state
        return "ok"

    return make_app(manager, run=run)


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_increments_add_up(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    browser = serve(slow_app(sessions_factory()))
    await browser.get("/set?key=a&value=b")
    cookie = f"{NAME}={browser.jar[NAME]}"
    responses = await asyncio.gather(
        *(browser.get("/run?op=incr&key=n", cookie=cookie, keep=False) for _ in range(50))
    )
    assert all(r.code == 200 for r in responses)
    assert (await browser.get("/get")).json()["values"]["n"] == 50


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_writes_to_different_keys_all_survive(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
) -> None:
    browser = serve(slow_app(sessions_factory()))
    await browser.get("/set?key=a&value=b")
    cookie = f"{NAME}={browser.jar[NAME]}"
    await asyncio.gather(
        *(browser.get(f"/run?op=set&key=k{i}", cookie=cookie, keep=False) for i in range(20))
    )
    values = (await browser.get("/get")).json()["values"]
    assert {f"k{i}" for i in range(20)} <= set(values)
    assert values["a"] == "b"
