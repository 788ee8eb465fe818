"""The demo's curl walkthrough, against the demo app and the demo process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import pytest
from tornado.testing import bind_unused_port

import demo
from tests.helpers import Browser


async def walk(browser: Browser) -> None:
    forbidden = await browser.get("/secret")
    assert (forbidden.code, forbidden.text) == (403, "Forbidden")
    login = await browser.get("/login")
    assert login.code == 200
    assert demo.COOKIE in login.set_cookies
    first_id = browser.jar[demo.COOKIE]
    cake = await browser.get("/secret")
    assert (cake.code, cake.text) == (200, "The cake is a lie!")
    login_again = await browser.get("/login")
    assert browser.jar[demo.COOKIE] != first_id  # regenerated at login
    assert login_again.code == 200
    logout = await browser.get("/logout")
    assert logout.code == 200
    assert demo.COOKIE not in browser.jar
    after = await browser.get("/secret")
    assert (after.code, after.text) == (403, "Forbidden")
    replay = await browser.get("/secret", cookie=f"{demo.COOKIE}={first_id}")
    assert replay.code == 403


@pytest.mark.gen_test
async def test_walkthrough_against_the_demo_app(serve: Callable[..., Browser]) -> None:
    await walk(serve(demo.make_app()))


@pytest.mark.gen_test(timeout=60)
async def test_walkthrough_against_the_demo_process() -> None:
    sock, port = bind_unused_port()
    sock.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "demo.py",
        f"--port={port}",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert b"secret cake" in banner
        await walk(Browser(f"http://127.0.0.1:{port}"))
    finally:
        proc.terminate()
        await proc.wait()


def test_unknown_encoder_or_store_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "demo.py", "--encoder=rot13"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "encoder" in result.stderr
