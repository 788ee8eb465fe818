"""The demo in a real browser: Debian's chromium, headless, driven by
Playwright (its own browser downloads are not used)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import require_binary

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_HINT = "install it (Debian/Ubuntu: apt-get install chromium) to run the browser tests"
# As the machine's own notes advise for a root, offline, headless chromium.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COOKIE = "mycookiesessionnameid"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    """``python demo.py`` as a user starts it, on a free loopback port."""
    port = free_port()
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "demo.py", f"--port={port}"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "demo.log").read_text()
                assert time.monotonic() < deadline, "demo.py did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    text = (tmp_path / "demo.log").read_text()
    # A favicon 404 (or any other warning) would be logged as WARNING.
    assert "WARNING" not in text and "Traceback" not in text, text


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = require_binary("chromium", CHROMIUM_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


def session_cookies(context: Any) -> list[dict[str, Any]]:
    return [c for c in context.cookies() if c["name"] == COOKIE]


def test_demo_walkthrough_in_chromium(demo_url: str, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context()
    page = context.new_page()

    response = page.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    assert page.title() == "Forbidden - tornsess demo"
    assert page.locator("#state").inner_text() == "You are not logged in."
    assert session_cookies(context) == []

    page.click("text=Log in")
    page.wait_for_url(demo_url + "/login")
    assert page.locator("#message").inner_text() == "You are logged in."
    (cookie,) = session_cookies(context)
    # As the browser stores it: HttpOnly, SameSite=Lax, host-only on an IP.
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["domain"] == "127.0.0.1"  # no leading dot: host-only
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http
    assert page.evaluate("document.cookie") == ""  # hidden from scripts

    page.click("text=Secret")
    page.wait_for_url(demo_url + "/secret")
    assert page.title() == "Secret - tornsess demo"
    assert page.locator("#message").inner_text() == "The cake is a lie!"
    assert page.locator("#state").inner_text() == "You are logged in."
    page.screenshot(path=str(os.environ.get("TORNSESS_SCREENSHOT", tmp_path / "secret.png")))

    page.click("text=Log out")
    page.wait_for_url(demo_url + "/logout")
    assert page.locator("#message").inner_text() == "You are logged out."
    assert session_cookies(context) == []

    response = page.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    assert page.locator("#message").inner_text() == "Forbidden"
    context.close()


def test_favicon_is_not_a_404(demo_url: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo_url + "/")
    response = page.request.get(demo_url + "/favicon.ico")
    assert response.status == 204
    context.close()


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", os.devnull)


def test_devices_page_logs_out_another_browser(demo_url: str, browser: Any, tmp_path: Path) -> None:
    """Two browsers log in as one user; the first lists both devices and
    logs the other out, which is then forbidden the secret."""
    first, second = browser.new_context(), browser.new_context()
    one, two = first.new_page(), second.new_page()
    one.goto(demo_url + "/login?user=bob")
    two.goto(demo_url + "/login?user=bob")
    assert two.goto(demo_url + "/secret").status == 200

    one.click("text=Your devices")
    one.wait_for_url(demo_url + "/sessions")
    assert one.locator("#message").inner_text() == "bob is logged in on 2 device(s)."
    rows = one.locator("tr.device")
    assert rows.count() == 2
    assert one.locator('tr.device[data-current="true"]').count() == 1
    assert "127.0.0.1" in one.locator("table").inner_text()
    assert "this device" in one.locator('tr.device[data-current="true"]').inner_text()
    one.screenshot(path=str(os.environ.get("TORNSESS_DEVICES_SCREENSHOT", tmp_path / "d.png")))

    one.locator('tr.device[data-current="false"] button').click()
    one.wait_for_url(demo_url + "/sessions")
    assert one.locator("#message").inner_text() == "bob is logged in on 1 device(s)."
    assert one.locator("tr.device").count() == 1

    response = two.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    assert two.goto(demo_url + "/secret").status == 403
    assert one.goto(demo_url + "/secret").status == 200
    first.close()
    second.close()
