"""The demo's curl walkthrough, against the demo app and the demo process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest
from tornado.testing import bind_unused_port

import demo
from tests.helpers import Browser


async def walk(browser: Browser) -> None:
    forbidden = await browser.get("/secret")
    assert (forbidden.code, forbidden.text) == (403, "Forbidden\n")
    assert forbidden.headers["Content-Type"].startswith("text/plain")
    login = await browser.get("/login")
    assert (login.code, login.text) == (200, "You are logged in.\n")
    assert demo.COOKIE in login.set_cookies
    first_id = browser.jar[demo.COOKIE]
    cake = await browser.get("/secret")
    assert (cake.code, cake.text) == (200, "The cake is a lie!\n")
    login_again = await browser.get("/login")
    assert browser.jar[demo.COOKIE] != first_id  # regenerated at login
    assert login_again.code == 200
    logout = await browser.get("/logout")
    assert (logout.code, logout.text) == (200, "You are logged out.\n")
    assert demo.COOKIE not in browser.jar
    after = await browser.get("/secret")
    assert (after.code, after.text) == (403, "Forbidden\n")
    replay = await browser.get("/secret", cookie=f"{demo.COOKIE}={first_id}")
    assert replay.code == 403


ENCODERS = ["plain", "signed", "secretbox"]

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.gen_test
async def test_browsers_get_pages_with_title_state_and_links(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    forbidden = await browser.get("/secret", headers=HTML)
    assert forbidden.code == 403
    assert forbidden.headers["Content-Type"].startswith("text/html")
    assert "<title>Forbidden - tornsess demo</title>" in forbidden.text
    assert "You are not logged in." in forbidden.text
    for link in ('href="/login"', 'href="/secret"', 'href="/logout"'):
        assert link in forbidden.text
    await browser.get("/login", headers=HTML)
    cake = await browser.get("/secret", headers=HTML)
    assert cake.code == 200
    assert "The cake is a lie!" in cake.text
    assert "You are logged in." in cake.text
    home = await browser.get("/", headers=HTML)
    assert home.code == 200 and "<title>" in home.text
    icon = await browser.get("/favicon.ico")
    assert (icon.code, icon.text) == (204, "")
    logout = await browser.get("/logout", headers=HTML)
    assert "You are not logged in." in logout.text


@pytest.mark.gen_test
@pytest.mark.parametrize("encoder", ENCODERS)
async def test_walkthrough_against_the_demo_app(
    serve: Callable[..., Browser], encoder: str
) -> None:
    sessions = demo.make_sessions(encoder, "memory", "a demo secret long enough to derive keys")
    browser = serve(demo.make_app(sessions))
    await walk(browser)


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize(
    ("encoder", "how"), [("plain", ""), ("signed", "flag"), ("secretbox", "env"), ("signed", "")]
)
async def test_walkthrough_against_the_demo_process(encoder: str, how: str) -> None:
    sock, port = bind_unused_port()
    sock.close()
    args = [f"--port={port}", f"--encoder={encoder}"]
    env = dict(os.environ)
    env.pop("TORNSESS_SECRET", None)
    if how == "flag":
        args.append("--secret=a demo secret given as a flag, long enough")
    elif how == "env":
        env["TORNSESS_SECRET"] = "demo secret given in the environment"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "demo.py",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[bytes] = []
        while not lines or b"secret cake" not in lines[-1]:
            lines.append(await asyncio.wait_for(proc.stdout.readline(), 30))
            assert lines[-1], b"".join(lines)
        warned = any(b"will not survive a restart" in line for line in lines)
        assert warned is (encoder != "plain" and how == "")
        browser = Browser(f"http://127.0.0.1:{port}")
        await walk(browser)
        if encoder != "plain":
            await browser.get("/login")
            assert len(browser.jar[demo.COOKIE]) > 43  # encoded, not the bare id
        # Ctrl-C (or a service manager's SIGTERM) stops it with one line.
        proc.send_signal(signal.SIGINT if how != "env" else signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stdout.read(), 30)
        assert await proc.wait() == 0
        assert rest.strip().splitlines()[-1] == b"demo.py: stopped"
        assert b"Traceback" not in rest
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    """``python demo.py ARGS`` for options it refuses (it exits at once)."""
    return subprocess.run(
        [sys.executable, "demo.py", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unknown_encoder_or_store_is_refused() -> None:
    result = run_demo("--encoder=rot13")
    assert result.returncode != 0
    assert "encoder" in result.stderr


def test_short_secret_is_refused_with_keygen_hint() -> None:
    result = run_demo("--encoder=signed", "--secret=too short")
    assert result.returncode != 0
    assert "cookie_secret" in result.stderr
    assert "python -m tornsess keygen" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.gen_test
async def test_devices_in_plain_text(serve: Callable[..., Browser]) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    assert (await browser.get("/sessions")).code == 403
    assert (await browser.get("/login?user=zoe")).text == "You are logged in.\n"
    other = Browser(browser.base_url)
    await other.get("/login?user=zoe")
    listing = await browser.get("/sessions")
    lines = listing.text.splitlines()
    assert lines[0] == "zoe is logged in on 2 device(s)."
    assert sum(line.endswith("this device") for line in lines[1:]) == 1
    assert all("127.0.0.1" in line for line in lines[1:])
    revoked = await browser.post("/sessions/revoke-others", "")
    assert revoked.code == 303
    assert (await other.get("/secret")).code == 403
    assert (await browser.get("/sessions")).text.startswith("zoe is logged in on 1 device(s).")
