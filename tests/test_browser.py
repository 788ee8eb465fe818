"""The demo in a real browser: Debian's chromium, headless, driven by
Playwright (its own browser downloads are not used).

Screenshots of the pages a new user sees are kept under
``build/screenshots/`` (CI keeps them as artifacts).
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

import demo
from tests.helpers import require_binary

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
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


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as build/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


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
    # A favicon 404 would be logged as a warning ("[W"); 403s are expected.
    assert "Traceback" not in text and "[E " not in text, text
    assert not [line for line in text.splitlines() if "[W" in line and " 404 " in line], text


# Opens a WebSocket to a URL; resolves to "message DATA" (the first
# message) or "closed CODE" (closed, or refused, before any message).
SOCKET_PROBE = """(url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.onmessage = (event) => { resolve("message " + event.data); socket.close(); };
  socket.onclose = (event) => resolve("closed " + event.code);
})"""


class _OtherSite(BaseHTTPRequestHandler):
    """Pages of another site that lead a browser to URL: ``/go?to=URL``
    navigates there (a top-level GET, as a link or ``location = ...``
    does); ``/post?to=URL`` submits a form there, without a token;
    ``/toss?to=URL`` sets the cookie ``_xsrf=tossed`` and submits a form
    with ``_xsrf=tossed``; ``/ws?to=URL`` opens a WebSocket to URL and puts
    the outcome in its title (:data:`SOCKET_PROBE`)."""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        target = urllib.parse.parse_qs(url.query).get("to", [""])[0]
        form = (
            f'<!doctype html><form method="post" action="{html.escape(target)}">'
            '<input name="_xsrf" value="tossed"></form>'
            "<script>document.forms[0].submit();</script>"
        )
        if url.path == "/go":
            body = f"<!doctype html><script>location = {json.dumps(target)};</script>"
        elif url.path == "/post":
            body = form.replace('name="_xsrf"', 'name="handle"')
        elif url.path == "/toss":
            body = form
        elif url.path == "/ws":
            body = (
                f"<!doctype html><title>waiting</title><script>({SOCKET_PROBE})"
                f"({json.dumps(target)}).then((outcome) => {{ document.title = outcome; }});"
                "</script>"
            )
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        if url.path == "/toss":
            self.send_header("Set-Cookie", "_xsrf=tossed; Path=/")
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_site() -> Iterator[int]:
    """The port of a second tiny HTTP server on loopback, whose pages lead a
    browser to the demo. As ``http://localhost:PORT`` it is another site
    than the demo at ``127.0.0.1`` (cross-site); as
    ``http://127.0.0.1:PORT`` it is another origin of the same site, as a
    sibling subdomain is (same-site)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


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


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", os.devnull)


def session_cookies(context: Any) -> list[dict[str, Any]]:
    return [c for c in context.cookies() if c["name"] == COOKIE]


def log_in_with_the_form(page: Any, demo_url: str, name: str) -> None:
    """Open the home page, type *name* in the header's form, press Log in:
    the browser lands on the devices page."""
    page.goto(demo_url + "/")
    page.fill("#user", name)
    page.click("#login")
    page.wait_for_url(demo_url + "/sessions")
    assert page.locator("#state").inner_text() == "You are logged in."
    assert page.locator("#who").inner_text() == name


def test_demo_walkthrough_in_chromium(demo_url: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()

    response = page.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    assert page.title() == "Forbidden - tornsess demo"
    assert page.locator("#state").inner_text() == "You are not logged in."
    assert "/login?user=NAME" in page.locator("#hint").inner_text()
    assert session_cookies(context) == []
    # Nothing on the page changes state with a GET: no link to /login or /logout.
    assert page.locator('a[href^="/login"], a[href^="/logout"]').count() == 0
    screenshot(page, "logged-out")

    with page.expect_request(demo_url + "/login") as sent:
        page.click("#login")  # the form's default name
    assert sent.value.method == "POST"
    assert "_xsrf=" in (sent.value.post_data or "")
    page.wait_for_url(demo_url + "/sessions")
    assert page.locator("#message").inner_text() == "alice is logged in on 1 device."
    (cookie,) = session_cookies(context)
    # As the browser stores it: HttpOnly, SameSite=Lax, host-only on an IP.
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["domain"] == "127.0.0.1"  # no leading dot: host-only
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http
    (xsrf,) = [c for c in context.cookies() if c["name"] == "_xsrf"]
    assert (xsrf["httpOnly"], xsrf["sameSite"]) == (True, "Lax")
    assert page.evaluate("document.cookie") == ""  # both hidden from scripts

    page.click("text=Secret")
    page.wait_for_url(demo_url + "/secret")
    assert page.title() == "Secret - tornsess demo"
    assert page.locator("#message").inner_text() == "The cake is a lie!"
    assert page.locator("#state").inner_text() == "You are logged in."

    with page.expect_request(demo_url + "/logout") as sent:
        page.click("#logout")
    assert sent.value.method == "POST"
    page.wait_for_url(demo_url + "/logout")
    assert page.locator("#message").inner_text() == "You are logged out."
    assert page.locator("#state").inner_text() == "You are not logged in."
    assert session_cookies(context) == []

    response = page.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    assert page.locator("#message").inner_text() == "The secret is for logged-in visitors only."
    context.close()


def test_favicon_is_not_a_404(demo_url: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo_url + "/")
    response = page.request.get(demo_url + "/favicon.ico")
    assert response.status == 204
    context.close()


def urllib_login(url: str) -> str:
    """Log in as a third device with Python's urllib (its own User-Agent);
    return its Cookie header."""
    with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback http
        assert response.read() == b"You are logged in.\n"
        cookie = response.headers["Set-Cookie"].split(";")[0]
    return str(cookie)


def urllib_status(url: str, cookie: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def button_heights(page: Any) -> list[float]:
    return [
        float(h) for h in page.eval_on_selector_all("button", "bs => bs.map(b => b.offsetHeight)")
    ]


def test_devices_page_forms_and_tokens(demo_url: str, browser: Any) -> None:
    """Two browsers and a script log in as bob with the form; the devices
    page tells them apart; the second browser logs the first out, then all
    the others; a POST without the token is refused; the logout button
    logs out."""
    first, second = browser.new_context(), browser.new_context()
    one, two = first.new_page(), second.new_page()
    log_in_with_the_form(one, demo_url, "bob")
    assert one.locator("#message").inner_text() == "bob is logged in on 1 device."
    assert one.locator("#others").count() == 0  # no other device to log out
    log_in_with_the_form(two, demo_url, "bob")
    script = urllib_login(demo_url + "/login?user=bob")

    one.goto(demo_url + "/sessions")
    assert one.locator("#message").inner_text() == "bob is logged in on 3 devices."
    assert one.locator("tr.device").count() == 3
    assert one.locator('tr.device[data-current="true"]').count() == 1
    current = one.locator('tr.device[data-current="true"]')
    assert "This device" in current.inner_text()
    # Each browser by a name a person tells apart, the whole header in the tooltip.
    agent = one.evaluate("navigator.userAgent")
    name = demo.describe_agent(agent)
    assert re.fullmatch(r"(Headless )?Chrome \d+ on \w+", name), name  # "Chrome 131 on Linux"
    assert current.locator(".agent").inner_text() == name
    assert current.locator(".agent").get_attribute("title") == agent
    agents = one.locator("tr.device .agent").all_inner_texts()
    assert sorted(agents) == sorted(
        [name, name, f"Python-urllib {sys.version_info[0]}.{sys.version_info[1]}"]
    )
    assert "127.0.0.1" in one.locator("#devices").inner_text()
    # "You are logged in." once; how to log in as NAME on the page itself.
    assert one.locator("body").inner_text().count("You are logged in.") == 1
    assert "/login?user=NAME" in one.locator("#hint").inner_text()
    assert "log in there as bob" in one.locator("#hint").inner_text()
    # Every button on one line: as tall as the one-word "Log out".
    assert one.locator("#others").inner_text() == "Log out all other devices"
    heights = button_heights(one)
    assert len(heights) == 4 and len(set(heights)) == 1, heights
    # Every form posts, with the token.
    assert one.locator("form").count() == one.locator('form[method="post"]').count() == 4
    assert one.locator('form input[name="_xsrf"]').count() == 4
    screenshot(one, "devices")
    one.set_viewport_size({"width": 400, "height": 800})  # a phone: still one line each
    heights = button_heights(one)
    assert len(heights) == 4 and len(set(heights)) == 1, heights
    screenshot(one, "devices-narrow")
    one.set_viewport_size({"width": 1280, "height": 720})

    # The second browser logs the first one out.
    mine = one.locator('tr.device[data-current="true"]').get_attribute("data-handle")
    two.goto(demo_url + "/sessions")
    with two.expect_request(demo_url + "/sessions/revoke") as sent:
        two.locator(f'tr.device[data-handle="{mine}"] button').click()
    assert sent.value.method == "POST"
    two.wait_for_url(demo_url + "/sessions")
    assert two.locator("#message").inner_text() == "bob is logged in on 2 devices."
    response = one.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    assert one.locator("#state").inner_text() == "You are not logged in."

    # ... and then every other device (the script).
    assert urllib_status(demo_url + "/secret", script) == 200
    two.click("#others")
    two.wait_for_url(demo_url + "/sessions")
    assert two.locator("#message").inner_text() == "bob is logged in on 1 device."
    assert two.locator("#others").count() == 0
    assert urllib_status(demo_url + "/secret", script) == 403

    # A POST without the token: 403, and nothing changes.
    two.eval_on_selector_all('input[name="_xsrf"]', "inputs => inputs.forEach(i => i.remove())")
    with two.expect_response(demo_url + "/logout") as answer:
        two.click("#logout")
    assert answer.value.status == 403
    assert "XSRF token" in two.locator("#message").inner_text()
    response = two.goto(demo_url + "/secret")
    assert response is not None and response.status == 200

    # The logout button.
    two.goto(demo_url + "/sessions")
    two.click("#logout")
    two.wait_for_url(demo_url + "/logout")
    assert two.locator("#message").inner_text() == "You are logged out."
    assert session_cookies(second) == []
    response = two.goto(demo_url + "/secret")
    assert response is not None and response.status == 403
    first.close()
    second.close()


def test_a_name_typed_in_the_address_bar_logs_in(demo_url: str, browser: Any) -> None:
    """``/login?user=NAME`` typed as a URL (Sec-Fetch-Site: none) logs in,
    as the pages explain; so does ``/logout``."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo_url + "/login?user=carol%20%3Cb%3E")
    assert page.url == demo_url + "/sessions"
    assert page.locator("#message").inner_text() == "carol <b> is logged in on 1 device."
    assert page.locator("#who").inner_text() == "carol <b>"  # text, not markup
    page.goto(demo_url + "/logout")
    assert page.locator("#message").inner_text() == "You are logged out."
    assert session_cookies(context) == []
    context.close()


def test_other_sites_cannot_log_you_out_or_in(demo_url: str, browser: Any, other_site: int) -> None:
    """Another site's page that navigates to /logout (or /login?user=...)
    or posts a form gets a 403, and the session survives: from another
    site (cross-site), and from another origin of the same site, as a
    sibling subdomain is (same-site), even when that sibling has tossed its
    own ``_xsrf`` cookie and sends the matching token."""
    context, phone = browser.new_context(), browser.new_context()
    page = context.new_page()
    log_in_with_the_form(page, demo_url, "dave")
    log_in_with_the_form(phone.new_page(), demo_url, "dave")
    (before,) = session_cookies(context)
    cross = f"http://localhost:{other_site}"
    sibling = f"http://127.0.0.1:{other_site}"
    attacks = [
        (cross, "go", "/logout", "Sec-Fetch-Site: cross-site"),
        (sibling, "go", "/logout", "Sec-Fetch-Site: same-site"),
        (cross, "go", "/login?user=mallory", "Sec-Fetch-Site: cross-site"),
        # A cross-site POST carries no SameSite=Lax cookie, and no token.
        (cross, "post", "/sessions/revoke-others", "XSRF token"),
        # The sibling sets _xsrf=tossed for the demo's host (cookies ignore
        # ports, as sibling subdomains may set them for the parent domain)
        # and posts _xsrf=tossed: Tornado's token check passes; Fetch
        # Metadata refuses it.
        (sibling, "toss", "/sessions/revoke-others", "Sec-Fetch-Site: same-site"),
    ]
    for site, how, path, why in attacks:
        target = demo_url + path

        def to_target(response: Any, target: str = target) -> bool:
            return bool(response.url == target)

        with page.expect_response(to_target) as answer:
            # Done once the other site's page is in: it leaves at once.
            page.goto(f"{site}/{how}?to={urllib.parse.quote(target)}", wait_until="commit")
        assert answer.value.status == 403, (site, how, path)
        page.wait_for_url(target)
        assert why in page.locator("#message").inner_text(), (site, how, path)
        if (site, how) == (cross, "go") and path == "/logout":
            screenshot(page, "cross-site-refused")
        assert session_cookies(context) == [before]
    assert any(c["value"] == "tossed" for c in context.cookies() if c["name"] == "_xsrf")

    response = page.goto(demo_url + "/secret")
    assert response is not None and response.status == 200
    page.goto(demo_url + "/sessions")
    assert page.locator("#who").inner_text() == "dave"
    assert page.locator("#message").inner_text() == "dave is logged in on 2 devices."
    context.close()
    phone.close()


def wait_until_live(page: Any, name: str) -> None:
    """Wait for the live page's socket to answer open() with *name*."""
    expect(page.locator("#live")).to_have_attribute("data-state", "open")
    assert page.locator("#status").inner_text() == f"Connected as {name} over a WebSocket."
    assert page.locator("#status strong").inner_text() == name
    assert page.locator("#eat").is_enabled()


def test_the_live_page_in_chromium(demo_url: str, browser: Any) -> None:
    """A visitor is asked to log in (no socket); logged in, the nav leads to
    /live, whose socket says who the session is; each click eats a slice,
    saved in the session (a second tab sees the count, and the first the
    second's clicks when it is shown again); logging out in that
    tab with the POST form closes the first tab's socket (1008): it says so
    and disables its button."""
    context = browser.new_context()
    page = context.new_page()
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    response = page.goto(demo_url + "/live")
    assert response is not None and response.status == 403
    assert page.locator("#message").inner_text() == (
        "Log in to eat the cake live, one slice at a time."
    )
    assert page.locator("#live, #eat, nav a[href='/live']").count() == 0
    assert sockets == []

    log_in_with_the_form(page, demo_url, "alice")
    assert page.locator("nav a").all_inner_texts() == ["Home", "Secret", "Live", "Your devices"]
    with page.expect_websocket() as opened:
        page.click("nav >> text=Live")
    assert opened.value.url == demo_url.replace("http://", "ws://") + "/live/socket"
    page.wait_for_url(demo_url + "/live")
    assert page.title() == "Live cake - tornsess demo"
    assert page.locator("nav a[aria-current]").inner_text() == "Live"
    wait_until_live(page, "alice")
    assert (page.locator("#count").inner_text(), page.locator("#unit").inner_text()) == (
        "0",
        "slices eaten",
    )
    sent: list[str] = []
    opened.value.on("framesent", lambda frame: sent.append(frame))
    page.click("#eat")
    expect(page.locator("#count")).to_have_text("1")
    assert page.locator("#unit").inner_text() == "slice eaten"
    for count in (2, 3):
        page.click("#eat")
        expect(page.locator("#count")).to_have_text(str(count))
    assert page.locator("#unit").inner_text() == "slices eaten"
    assert sent == ["eat", "eat", "eat"]  # each click, a message on the socket
    screenshot(page, "live")

    tab = context.new_page()  # a second tab of the same browser
    tab.goto(demo_url + "/live")
    assert tab.locator("#count").inner_text() == "3"  # stored by the socket's save()
    wait_until_live(tab, "alice")
    tab.click("#eat")
    expect(tab.locator("#count")).to_have_text("4")
    # Back on the first tab (as the browser tells a page that is shown
    # again), it reads what the second one stored.
    assert page.locator("#count").inner_text() == "3"
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#count")).to_have_text("4")
    with tab.expect_request(demo_url + "/logout") as logout:
        tab.click("#logout")
    assert logout.value.method == "POST"
    tab.wait_for_url(demo_url + "/logout")
    assert tab.locator("#message").inner_text() == "You are logged out."

    expect(page.locator("#live")).to_have_attribute("data-state", "ended")
    assert page.locator("#status").inner_text() == "Your session ended: log in again."
    assert page.locator("#eat").is_disabled()
    assert page.locator("#state").inner_text() == "You are not logged in."
    assert page.locator("#account").is_hidden()  # no longer alice, no Log out button
    assert page.locator("#count").inner_text() == "4"
    screenshot(page, "live-ended")
    page.click("#status >> text=log in again")
    page.wait_for_url(demo_url + "/live")
    assert page.locator("#message").inner_text() == (
        "Log in to eat the cake live, one slice at a time."
    )
    assert page.locator("#login-form").count() == 1
    context.close()


def test_log_out_all_other_devices_ends_the_live_page(demo_url: str, browser: Any) -> None:
    """ "Log out all other devices" on a phone closes the laptop's live
    socket; the phone's own live page goes on counting."""
    laptop, phone = browser.new_context(), browser.new_context()
    page, other = laptop.new_page(), phone.new_page()
    log_in_with_the_form(page, demo_url, "erin")
    log_in_with_the_form(other, demo_url, "erin")
    page.goto(demo_url + "/live")
    wait_until_live(page, "erin")
    page.click("#eat")
    expect(page.locator("#count")).to_have_text("1")
    other.goto(demo_url + "/sessions")
    other.click("#others")
    other.wait_for_url(demo_url + "/sessions")
    assert other.locator("#message").inner_text() == "erin is logged in on 1 device."
    expect(page.locator("#live")).to_have_attribute("data-state", "ended")
    assert page.locator("#eat").is_disabled()
    other.goto(demo_url + "/live")
    wait_until_live(other, "erin")
    assert other.locator("#count").inner_text() == "0"  # a session of its own
    other.click("#eat")
    expect(other.locator("#count")).to_have_text("1")
    laptop.close()
    phone.close()


def test_the_live_page_shows_a_name_as_text(demo_url: str, browser: Any) -> None:
    """A name with markup, typed in the address bar, is text on the live
    page: in the header and in what the socket's open() sent."""
    context = browser.new_context()
    page = context.new_page()
    name = "<img src=x onerror=\"document.title='pwned'\">"
    page.goto(demo_url + "/login?user=" + urllib.parse.quote(name))
    page.goto(demo_url + "/live")
    wait_until_live(page, name)
    assert page.locator("#who").inner_text() == name
    assert page.locator("img").count() == 0
    assert page.title() == "Live cake - tornsess demo"
    context.close()


def test_other_sites_cannot_open_the_live_socket(
    demo_url: str, browser: Any, other_site: int
) -> None:
    """A page of another site, or of another origin of the same site (which
    the browser sends the SameSite=Lax cookie from), that opens the live
    page's WebSocket is refused (Tornado's origin check: 403, and the
    browser closes it with 1006); the same script on the demo's own page
    gets the session's answer."""
    context = browser.new_context()
    page = context.new_page()
    log_in_with_the_form(page, demo_url, "frank")
    socket_url = demo_url.replace("http://", "ws://") + "/live/socket"
    own = page.evaluate(SOCKET_PROBE, socket_url)
    assert own == 'message {"user": "frank", "slices": 0}'
    for site in (f"http://localhost:{other_site}", f"http://127.0.0.1:{other_site}"):
        page.goto(f"{site}/ws?to={urllib.parse.quote(socket_url)}")
        page.wait_for_function("document.title !== 'waiting'")
        assert page.title() == "closed 1006", site
    page.goto(demo_url + "/live")
    wait_until_live(page, "frank")
    assert page.locator("#count").inner_text() == "0"
    context.close()
