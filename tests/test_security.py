"""Security requirements that cut across modules (see shared/reference/security.md)."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

import tornsess
from tests.apps import make_app
from tests.helpers import Browser
from tornsess import MemoryDatabase, Sessions
from tornsess.encoders import SignedEncoder
from tornsess.ids import new_id
from tornsess.keys import generate_key

NAME = tornsess.DEFAULT_COOKIE_NAME


def test_ids_are_256_bit_urlsafe_and_distinct() -> None:
    ids = {new_id() for _ in range(100_000)}
    assert len(ids) == 100_000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", i) for i in list(ids)[:1000])


@pytest.mark.gen_test
async def test_signed_verification_uses_compare_digest(
    serve: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    browser = serve(make_app(Sessions(encoding=SignedEncoder(generate_key()))))
    await browser.get("/set?key=a&value=b")
    calls.clear()
    assert (await browser.get("/get")).json()["values"] == {"a": "b"}
    assert calls
    calls.clear()
    forged = browser.jar[NAME][:-2] + "AA"
    assert (await browser.get("/get", cookie=f"{NAME}={forged}")).json()["is_new"] is True
    assert calls


@pytest.mark.gen_test
async def test_untouched_fresh_sessions_create_nothing(serve: Callable[..., Browser]) -> None:
    manager = Sessions()
    db = MemoryDatabase()
    manager.use_database(db)
    browser = serve(make_app(manager))
    for cookie in ("", f"{NAME}=garbage", f"{NAME}={new_id()}"):
        response = await browser.get("/get", cookie=cookie)
        assert response.code == 200
        assert response.set_cookies == {}
    assert len(db) == 0


@pytest.mark.gen_test
async def test_logs_never_carry_ids_or_cookie_values(
    serve: Callable[..., Browser], caplog: pytest.LogCaptureFixture
) -> None:
    manager = Sessions()
    browser = serve(make_app(manager))
    one, two = browser.fork(), browser.fork()
    first = (await one.get("/set?key=a&value=b")).json()["id"]
    second = (await two.get("/set?key=a&value=b")).json()["id"]
    with caplog.at_level(logging.DEBUG):
        await browser.get("/get", cookie=f"{NAME}={first}; {NAME}={second}")
        await browser.get("/get", cookie=f"{NAME}=secret-looking-garbage")
        await one.get("/destroy")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert first not in text
    assert second not in text
    assert "secret-looking-garbage" not in text


@pytest.mark.gen_test
async def test_expiry_refresh_sends_cookie_vary_and_no_store(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(make_app(Sessions(expires=60)))
    await browser.get("/set?key=a&value=b")
    response = await browser.get("/shift")
    assert NAME in response.set_cookies
    assert "Cookie" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"
    plain = await browser.get("/nosession")
    assert "Vary" not in plain.headers and plain.set_cookies == {}
