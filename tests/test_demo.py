"""The demo's curl walkthrough, against the demo app and the demo process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tornado
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.testing import bind_unused_port
from tornado.websocket import WebSocketClientConnection, websocket_connect

import demo
from tests.helpers import Browser, OwnRedis, free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent
CURL_HINT = "install it (Debian/Ubuntu: apt-get install curl) to run the curl walkthroughs"
MAKE_HINT = "install it (Debian/Ubuntu: apt-get install make) to run the make recipes"


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
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def xsrf_token(browser: Browser) -> str:
    """The token a browser gets with any page (and keeps in its ``_xsrf``
    cookie), as a form field would carry it."""
    await browser.get("/", headers=HTML)
    return browser.jar["_xsrf"]


@pytest.mark.gen_test
async def test_browsers_get_pages_with_title_state_and_forms(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    forbidden = await browser.get("/secret", headers=HTML)
    assert forbidden.code == 403
    assert forbidden.headers["Content-Type"].startswith("text/html")
    assert "<title>Forbidden - tornsess demo</title>" in forbidden.text
    assert "You are not logged in." in forbidden.text
    for link in ('href="/"', 'href="/secret"', 'href="/sessions"'):
        assert link in forbidden.text
    # No link changes state; the login form posts, with the token.
    assert 'href="/login' not in forbidden.text and 'href="/logout' not in forbidden.text
    assert '<form method="post" action="/login"' in forbidden.text
    token = browser.jar["_xsrf"]
    assert f'name="_xsrf" value="{token}"' in forbidden.text
    assert "<code>/login?user=NAME</code>" in forbidden.text
    no_token = await browser.post("/login", "user=ann", headers={**HTML, **FORM})
    assert no_token.code == 403
    assert "XSRF token" in no_token.text
    login = await browser.post("/login", f"user=ann&_xsrf={token}", headers={**HTML, **FORM})
    assert (login.code, login.headers["Location"]) == (303, "/sessions")
    devices = await browser.get("/sessions", headers=HTML)
    assert devices.text.count("You are logged in.") == 1
    assert "ann is logged in on 1 device." in devices.text
    cake = await browser.get("/secret", headers=HTML)
    assert cake.code == 200
    assert "The cake is a lie!" in cake.text
    assert "You are logged in." in cake.text
    assert '<form method="post" action="/logout">' in cake.text
    home = await browser.get("/", headers=HTML)
    assert home.code == 200 and "<title>The secret cake - tornsess demo</title>" in home.text
    icon = await browser.get("/favicon.ico")
    assert (icon.code, icon.text) == (204, "")
    logout = await browser.post("/logout", f"_xsrf={token}", headers={**HTML, **FORM})
    assert logout.code == 200
    assert "You are logged out." in logout.text and "You are not logged in." in logout.text
    assert (await browser.get("/secret")).code == 403


@pytest.mark.gen_test
async def test_curl_may_post_too(serve: Callable[..., Browser]) -> None:
    """``curl -d`` works once it sends the token of its ``_xsrf`` cookie."""
    browser = serve(demo.make_app(demo.make_sessions()))
    token = await xsrf_token(browser)
    login = await browser.post("/login", f"user=cat&_xsrf={token}", headers=FORM)
    assert (login.code, login.text) == (200, "You are logged in.\n")
    assert (await browser.get("/sessions")).text.startswith("cat is logged in on 1 device.")
    logout = await browser.post("/logout", "", headers={"X-XSRFToken": token})
    assert (logout.code, logout.text) == (200, "You are logged out.\n")
    assert (await browser.get("/secret")).code == 403


# Requests that another site (or a prefetch) may have started: refused.
FOREIGN = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "something-new"},
    {"Sec-Fetch-Site": "none", "Sec-Purpose": "prefetch;prerender"},
    {"Purpose": "prefetch"},
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Referer": "http://shop.example.com/page"},
]
# Typed URLs, this site's own pages, and programs: allowed.
OWN = [
    {},
    {"Sec-Fetch-Site": "none"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "ORIGIN"},
    {"Origin": "ORIGIN"},
    {"Referer": "ORIGIN/sessions"},
]


def own(headers: dict[str, str], browser: Browser) -> dict[str, str]:
    return {name: value.replace("ORIGIN", browser.base_url) for name, value in headers.items()}


@pytest.mark.gen_test
@pytest.mark.parametrize("headers", FOREIGN)
async def test_a_get_that_another_site_started_changes_nothing(
    serve: Callable[..., Browser], headers: dict[str, str]
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    await browser.get("/login?user=eve")
    session = browser.jar[demo.COOKIE]
    logout = await browser.get("/logout", headers=headers)
    assert logout.code == 403
    assert logout.text.startswith("Forbidden: ")
    login = await browser.get("/login?user=mallory", headers={**headers, **HTML})
    assert login.code == 403
    assert "Refused: " in login.text and "Only this site" in login.text
    assert browser.jar[demo.COOKIE] == session
    assert (await browser.get("/secret")).text == "The cake is a lie!\n"
    assert (await browser.get("/sessions")).text.startswith("eve is logged in")


@pytest.mark.gen_test
@pytest.mark.parametrize("headers", OWN)
async def test_a_get_from_a_typed_url_this_site_or_curl_logs_out(
    serve: Callable[..., Browser], headers: dict[str, str]
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    login = await browser.get("/login?user=eve", headers=own(headers, browser))
    assert (login.code, login.text) == (200, "You are logged in.\n")
    assert (await browser.get("/secret")).code == 200
    logout = await browser.get("/logout", headers=own(headers, browser))
    assert (logout.code, logout.text) == (200, "You are logged out.\n")
    assert (await browser.get("/secret")).code == 403


@pytest.mark.gen_test
async def test_a_post_needs_the_token_and_this_site(serve: Callable[..., Browser]) -> None:
    """The XSRF token is checked on every POST; and a token that matches
    its cookie is still refused from a sibling (same-site), which may have
    set that cookie itself (cookie tossing)."""
    browser = serve(demo.make_app(demo.make_sessions()))
    other = Browser(browser.base_url)
    await browser.get("/login?user=fay")
    await other.get("/login?user=fay")
    token = await xsrf_token(browser)
    for body, headers in [
        ("", FORM),
        ("_xsrf=", FORM),
        ("_xsrf=2|00|00|0", FORM),
        (f"_xsrf={token}x", FORM),
        (f"_xsrf={token}", {**FORM, "Sec-Fetch-Site": "same-site"}),
        (f"_xsrf={token}", {**FORM, "Sec-Fetch-Site": "cross-site"}),
        (f"_xsrf={token}", {**FORM, "Origin": "http://evil.example"}),
    ]:
        refused = await browser.post("/sessions/revoke-others", body, headers=headers)
        assert refused.code == 403, (body, headers)
        assert refused.text.startswith("Forbidden: "), refused.text
        assert (await other.get("/secret")).code == 200, (body, headers)
    # A sibling that tossed its own _xsrf cookie passes Tornado's check ...
    tossed = browser.fork()
    tossed.jar["_xsrf"] = "tossed"
    sibling = {**FORM, "Sec-Fetch-Site": "same-site"}
    refused = await tossed.post("/sessions/revoke-others", "_xsrf=tossed", headers=sibling)
    assert (
        refused.text == "Forbidden: another site started this request (Sec-Fetch-Site: same-site)\n"
    )
    assert (await other.get("/secret")).code == 200
    # ... which the same request from this site's page passes too.
    done = await tossed.post(
        "/sessions/revoke-others", "_xsrf=tossed", headers={**FORM, "Sec-Fetch-Site": "same-origin"}
    )
    assert done.code == 303
    assert (await other.get("/secret")).code == 403


@pytest.mark.gen_test
async def test_the_xsrf_cookie_is_httponly_and_lax(serve: Callable[..., Browser]) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    page = await browser.get("/", headers=HTML)
    cookie = page.cookie("_xsrf")
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    # curl's walkthrough never asks for a form, so it never gets the cookie.
    plain = Browser(browser.base_url)
    await walk(plain)
    assert "_xsrf" not in plain.jar


@pytest.mark.gen_test
async def test_session_cookie_is_host_only_on_a_domain(serve: Callable[..., Browser]) -> None:
    """No Domain attribute on app.example.com: a sibling subdomain
    (shop.example.com) is never sent the session cookie."""
    browser = serve(demo.make_app(demo.make_sessions()))
    login = await browser.get("/login", headers={"Host": "app.example.com"})
    assert login.code == 200
    assert "domain" not in login.cookie(demo.COOKIE)


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
    args = [f"--encoder={encoder}"]
    env = dict(os.environ)
    env.pop("TORNSESS_SECRET", None)
    if how == "flag":
        args.append("--secret=a demo secret given as a flag, long enough")
    elif how == "env":
        env["TORNSESS_SECRET"] = "demo secret given in the environment"
    proc, browser, lines = await start_demo(*args, env=env)
    try:
        warned = any(b"will not survive a restart" in line for line in lines)
        assert warned is (encoder != "plain" and how == "")
        await walk(browser)
        if encoder != "plain":
            await browser.get("/login")
            assert len(browser.jar[demo.COOKIE]) > 43  # encoded, not the bare id
        # Ctrl-C (or a service manager's SIGTERM) stops it with one line.
        rest = await stop_demo(proc, signal.SIGINT if how != "env" else signal.SIGTERM)
        assert rest.strip().splitlines()[-1] == b"demo.py: stopped"
        assert b"Traceback" not in rest
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def start_demo(
    *args: str, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, Browser, list[bytes]]:
    """``python demo.py ARGS`` on a free port, once it serves: the process,
    a browser for it, and what it printed so far."""
    sock, port = bind_unused_port()
    sock.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "demo.py",
        f"--port={port}",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    try:
        while not lines or b"secret cake" not in lines[-1]:
            lines.append(await asyncio.wait_for(proc.stdout.readline(), 30))
            assert lines[-1], b"".join(lines)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc, Browser(f"http://127.0.0.1:{port}"), lines


async def stop_demo(proc: asyncio.subprocess.Process, sig: signal.Signals = signal.SIGINT) -> bytes:
    """Stop the demo as Ctrl-C (or a service manager) does; what it printed."""
    proc.send_signal(sig)
    assert proc.stdout is not None
    rest = await asyncio.wait_for(proc.stdout.read(), 30)
    assert await proc.wait() == 0
    return rest


@pytest.mark.gen_test(timeout=90)
@pytest.mark.parametrize("store", ["sqlite", "redis", "postgresql"])
async def test_the_demo_on_a_lasting_store_keeps_a_login_across_a_restart(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if store == "sqlite":
        url = f"sqlite:{tmp_path / 'demo.db'}"
    else:
        url = request.getfixturevalue("redis_url" if store == "redis" else "postgresql_dsn")
    args = ("--encoder=signed", "--secret=a demo secret given as a flag, long enough")
    proc, browser, _ = await start_demo(f"--store={url}", *args)
    try:
        await walk(browser)  # the whole walkthrough on this store
        assert (await browser.get("/login")).code == 200
    finally:
        rest = await stop_demo(proc)
    assert b"Traceback" not in rest
    # A new process on the same store and secret knows the login.
    again, second, _ = await start_demo(f"--store={url}", *args)
    try:
        second.jar = dict(browser.jar)
        cake = await second.get("/secret")
        assert (cake.code, cake.text) == (200, "The cake is a lie!\n")
        assert (await second.get("/logout")).code == 200
        assert (await second.get("/secret")).code == 403
    finally:
        rest = await stop_demo(again)
    assert b"Traceback" not in rest


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
    assert lines[0] == "zoe is logged in on 2 devices."
    assert lines[1].endswith("this device")  # this one first
    assert sum(line.endswith("this device") for line in lines[1:]) == 1
    assert all("127.0.0.1" in line for line in lines[1:])
    tornado_agent = demo.describe_agent(f"Tornado/{tornado.version}")
    assert all(f"  {tornado_agent}  since " in line for line in lines[1:])
    token = await xsrf_token(browser)
    revoked = await browser.post("/sessions/revoke-others", f"_xsrf={token}", headers=FORM)
    assert revoked.code == 303
    assert (await other.get("/secret")).code == 403
    assert (await browser.get("/sessions")).text.startswith("zoe is logged in on 1 device.")


@pytest.mark.gen_test
async def test_devices_page_in_html(serve: Callable[..., Browser]) -> None:
    """Browsers by name with the whole User-Agent in a tooltip; a revoke
    form per other device; "Log out all other devices" only when there
    are others; the name and agents escaped."""
    browser = serve(demo.make_app(demo.make_sessions()))
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    name = "<script>alert(1)</script>"
    await browser.get(f"/login?user={urllib.parse.quote(name)}", headers={"User-Agent": firefox})
    alone = await browser.get("/sessions", headers=HTML)
    assert 'id="others"' not in alone.text
    assert 'action="/sessions/revoke"' not in alone.text
    hostile = '"><img src=x onerror=alert(2)>curl/8.5.0'
    other = Browser(browser.base_url)
    await other.get(f"/login?user={urllib.parse.quote(name)}", headers={"User-Agent": hostile})
    page = (await browser.get("/sessions", headers=HTML)).text
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is logged in on 2 devices." in page
    assert f'title="{firefox}">Firefox 133 on Windows</span>' in page
    assert 'title="&quot;&gt;&lt;img src=x onerror=alert(2)&gt;curl/8.5.0">' in page
    assert page.count('action="/sessions/revoke"') == 1
    assert page.count('id="others"') == 1
    assert page.count("You are logged in.") == 1
    assert "login?user=%3Cscript%3Ealert%281%29%3C/script%3E" in page


@pytest.mark.gen_test
async def test_a_name_must_be_short_and_printable(serve: Callable[..., Browser]) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    for name in ("x" * (demo.MAX_NAME + 1), "a%0Ab"):
        response = await browser.get(f"/login?user={name}")
        assert response.code == 400
        assert demo.COOKIE not in browser.jar
    assert (await browser.get("/login?user=" + "x" * demo.MAX_NAME)).code == 200
    assert (await browser.get("/login?user=%20")).code == 200  # blank: the default name
    assert (await browser.get("/sessions")).text.startswith(f"{demo.DEFAULT_USER} is logged")


# -- the live page: a session on a WebSocket ------------------------------------------


async def live_socket(browser: Browser, **headers: str) -> WebSocketClientConnection:
    """The live page's WebSocket, opened with *browser*'s cookies (as the
    page's script opens it) and *headers*."""
    url = browser.base_url.replace("http://", "ws://") + "/live/socket"
    cookie = "; ".join(f"{name}={value}" for name, value in browser.jar.items())
    return await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie, **headers}))


async def receive(conn: WebSocketClientConnection) -> Any:
    """The next message, a JSON text."""
    message = await conn.read_message()
    assert isinstance(message, str), message
    return json.loads(message)


async def eat(conn: WebSocketClientConnection) -> Any:
    await conn.write_message("eat")
    return await receive(conn)


async def closed_by_server(conn: WebSocketClientConnection) -> tuple[int | None, str | None]:
    """Wait for the server to close *conn* (no message before); its close
    code and reason. The client's side is closed too."""
    message = await conn.read_message()
    conn.close()
    assert message is None, f"a message instead of the close: {message!r}"
    return conn.close_code, conn.close_reason


async def shut(conn: WebSocketClientConnection) -> None:
    """Close from the client and wait until the server has closed too."""
    conn.close()
    while await conn.read_message() is not None:
        pass


@pytest.mark.gen_test
async def test_the_live_page_asks_a_visitor_to_log_in_and_opens_no_socket(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    assert (await browser.get("/live")).text == "Forbidden\n"
    page = await browser.get("/live", headers=HTML)
    assert page.code == 403
    assert "Log in to eat the cake live, one slice at a time." in page.text
    assert "<code>/login?user=NAME</code>" in page.text
    assert "<script" not in page.text and "/live/socket" not in page.text
    assert 'href="/live"' not in page.text  # in the nav only when logged in
    await browser.get("/login?user=ann")
    page = await browser.get("/", headers=HTML)
    assert '<a href="/secret">Secret</a><a href="/live">Live</a>' in page.text
    live = await browser.get("/live", headers=HTML)
    assert live.code == 200
    assert "<title>Live cake - tornsess demo</title>" in live.text
    assert '<a href="/live" aria-current=page>Live</a>' in live.text
    assert '<span id="count">0</span><span id="unit">slices eaten</span>' in live.text
    assert 'id="eat" class="primary" disabled>Eat a slice</button>' in live.text
    assert '"/live/socket"' in live.text


@pytest.mark.gen_test
async def test_a_socket_without_a_logged_in_session_is_closed_at_open(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    anonymous = await live_socket(browser)  # no cookie at all
    assert await closed_by_server(anonymous) == (1008, "log in first")
    await browser.get("/login?user=ann")
    ended = browser.fork()
    await browser.get("/logout")  # the fork still holds the cookie of that session
    replay = await live_socket(ended)
    assert await closed_by_server(replay) == (1008, "log in first")
    # Nothing of a refused socket is stored.
    assert (await ended.get("/live")).code == 403


@pytest.mark.gen_test
async def test_slices_eaten_on_the_socket_are_saved_in_the_session(
    serve: Callable[..., Browser],
) -> None:
    """open() answers the session's user name and count; each ``eat`` adds
    one and stores it (a later page request sees it); a second tab sees
    the count at open, and ``refresh`` reads what another tab stored."""
    browser = serve(demo.make_app(demo.make_sessions()))
    await browser.get("/login?user=ann")
    conn = await live_socket(browser)
    assert await receive(conn) == {"user": "ann", "slices": 0}
    assert [await eat(conn) for _ in range(3)] == [{"slices": 1}, {"slices": 2}, {"slices": 3}]
    assert (await browser.get("/live")).text == "ann has eaten 3 slices of cake.\n"
    page = await browser.get("/live", headers=HTML)
    assert '<span id="count">3</span>' in page.text
    tab = await live_socket(browser)  # a second tab of the same browser
    assert await receive(tab) == {"user": "ann", "slices": 3}
    assert await eat(tab) == {"slices": 4}
    await conn.write_message("refresh")
    assert await receive(conn) == {"slices": 4}
    assert await eat(conn) == {"slices": 5}
    assert (await browser.get("/live")).text == "ann has eaten 5 slices of cake.\n"
    await conn.write_message("something else")
    assert await closed_by_server(conn) == (1003, "unknown message")
    await shut(tab)
    # Another user's count is their own.
    other = Browser(browser.base_url)
    await other.get("/login?user=bea")
    assert (await other.get("/live")).text == "bea has eaten 0 slices of cake.\n"


@pytest.mark.gen_test
@pytest.mark.parametrize("how", ["logout", "logout-get", "others", "device"])
async def test_a_logout_elsewhere_closes_the_socket_with_1008(
    serve: Callable[..., Browser], how: str
) -> None:
    """Logging out in another tab (the POST form, or curl's GET), or from
    another device ("log out all other devices", or this device's own
    button) closes the socket with 1008; the other device's socket stays
    open."""
    browser = serve(demo.make_app(demo.make_sessions()))
    await browser.get("/login?user=ann")
    phone = Browser(browser.base_url)
    await phone.get("/login?user=ann")
    conn = await live_socket(browser)
    assert await receive(conn) == {"user": "ann", "slices": 0}
    assert await eat(conn) == {"slices": 1}
    bystander = await live_socket(phone)
    assert await receive(bystander) == {"user": "ann", "slices": 0}
    if how == "logout":
        tab = browser.fork()
        token = await xsrf_token(tab)
        response = await tab.post("/logout", f"_xsrf={token}", headers=FORM)
        assert (response.code, response.text) == (200, "You are logged out.\n")
    elif how == "logout-get":
        assert (await browser.fork().get("/logout")).text == "You are logged out.\n"
    elif how == "others":
        token = await xsrf_token(phone)
        response = await phone.post("/sessions/revoke-others", f"_xsrf={token}", headers=FORM)
        assert response.code == 303
    else:
        listing = (await phone.get("/sessions")).text.splitlines()
        (line,) = [line for line in listing[1:] if not line.endswith("this device")]
        token = await xsrf_token(phone)
        handle = line.split()[0]
        response = await phone.post(
            "/sessions/revoke", f"_xsrf={token}&handle={handle}", headers=FORM
        )
        assert response.code == 303
    assert await closed_by_server(conn) == (1008, "session ended")
    assert (await browser.get("/live")).code == 403
    assert await eat(bystander) == {"slices": 1}  # still open, its own count
    await shut(bystander)


@pytest.mark.gen_test
async def test_a_logout_on_another_process_ends_the_socket_at_its_next_message(
    serve: Callable[..., Browser],
) -> None:
    """Two demo processes on one store: a logout on the other one closes
    this socket (1008) when it next saves."""
    here, there = demo.make_sessions(), demo.make_sessions()
    there.use_database(here.database)
    browser = serve(demo.make_app(here))
    await browser.get("/login?user=ann")
    conn = await live_socket(browser)
    assert await receive(conn) == {"user": "ann", "slices": 0}
    elsewhere = serve(demo.make_app(there))
    elsewhere.jar = dict(browser.jar)
    assert (await elsewhere.get("/live")).text == "ann has eaten 0 slices of cake.\n"
    assert (await elsewhere.get("/logout")).text == "You are logged out.\n"
    await conn.write_message("eat")
    assert await closed_by_server(conn) == (1008, "session ended")
    assert (await browser.get("/live")).code == 403


@pytest.mark.gen_test
async def test_a_socket_from_another_origin_is_refused(serve: Callable[..., Browser]) -> None:
    """Tornado's check_origin, kept: a page of another site, or of another
    origin on the same site (a sibling subdomain, which is sent the
    cookie), cannot open the socket with the visitor's cookie."""
    browser = serve(demo.make_app(demo.make_sessions()))
    await browser.get("/login?user=ann")
    port = urllib.parse.urlsplit(browser.base_url).port
    for origin in (
        "http://evil.example",
        f"http://localhost:{port}",
        "http://127.0.0.1:1",
        f"https://127.0.0.1.evil.example:{port}",
        "null",
    ):
        with pytest.raises(HTTPClientError) as refused:
            await live_socket(browser, Origin=origin)
        assert refused.value.code == 403, origin
    conn = await live_socket(browser, Origin=browser.base_url)  # this site's own page
    assert await receive(conn) == {"user": "ann", "slices": 0}
    assert await eat(conn) == {"slices": 1}
    await shut(conn)
    assert (await browser.get("/live")).text == "ann has eaten 1 slice of cake.\n"


@pytest.mark.gen_test
async def test_the_live_page_escapes_the_name_in_html_and_in_messages(
    serve: Callable[..., Browser],
) -> None:
    browser = serve(demo.make_app(demo.make_sessions()))
    name = '<img src=x onerror="alert(1)">&amp;'
    await browser.get(f"/login?user={urllib.parse.quote(name)}")
    page = (await browser.get("/live", headers=HTML)).text
    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;</span>" in page
    conn = await live_socket(browser)
    raw = await conn.read_message()
    assert isinstance(raw, str)
    assert not {"<", ">", "&"} & set(raw), raw
    assert json.loads(raw) == {"user": name, "slices": 0}
    await shut(conn)


CHROME = "Mozilla/5.0 ({}) AppleWebKit/537.36 (KHTML, like Gecko) {} Safari/537.36"
SAFARI = "Mozilla/5.0 ({}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 {}Safari/605.1.15"


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (CHROME.format("X11; Linux x86_64", "Chrome/131.0.0.0"), "Chrome 131 on Linux"),
        (
            CHROME.format("Windows NT 10.0; Win64; x64", "Chrome/131.0.0.0 Edg/131.0.2903.86"),
            "Edge 131 on Windows",
        ),
        (
            CHROME.format("Windows NT 10.0; Win64; x64", "Chrome/130.0.0.0 OPR/115.0.0.0"),
            "Opera 115 on Windows",
        ),
        (CHROME.format("Linux; Android 10; K", "Chrome/131.0.0.0 Mobile"), "Chrome 131 on Android"),
        (
            CHROME.format("Linux; Android 14; SM-S918B", "SamsungBrowser/26.0 Chrome/122.0.0.0"),
            "Samsung Internet 26 on Android",
        ),
        (CHROME.format("X11; CrOS x86_64 14541.0.0", "Chrome/131.0.0.0"), "Chrome 131 on ChromeOS"),
        (
            CHROME.format("X11; Linux x86_64", "HeadlessChrome/131.0.6778.33"),
            "Headless Chrome 131 on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on Windows",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on Linux",
        ),
        (SAFARI.format("Macintosh; Intel Mac OS X 10_15_7", ""), "Safari 17 on macOS"),
        (
            SAFARI.format("iPhone; CPU iPhone OS 17_6 like Mac OS X", "Mobile/15E148 "),
            "Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "Chrome 131 on iPadOS",
        ),
        ("curl/8.5.0", "curl 8.5"),
        ("Wget/1.21.4", "Wget 1.21"),
        ("python-requests/2.32.3", "python-requests 2.32"),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot 2.1",
        ),
        ("", "Unknown client"),
        (None, "Unknown client"),
        ("x" * 100, "x" * 39 + "\u2026"),
    ],
)
def test_browsers_are_told_apart(agent: str | None, name: str) -> None:
    assert demo.describe_agent(agent) == name


def curl_lines(text: str) -> list[tuple[str, str]]:
    """The ``curl ... # expected`` lines of *text*: (command, expected output)."""
    found = []
    for line in text.splitlines():
        command, _, expected = line.strip().removeprefix("$ ").partition("#")
        if command.startswith("curl "):
            found.append((command.strip(), expected.strip()))
    return found


def shell(line: str) -> list[str]:
    """The arguments that run a documented command *line* as a shell does."""
    return [require_binary("bash", "install bash"), "-c", line]


def jar_value(jar: Path, name: str) -> str | None:
    """The value of cookie *name* in curl's cookie jar (Netscape format)."""
    for line in jar.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 7 and fields[5] == name:
            return fields[6]
    return None


def run_curl(command: str, cwd: Path) -> str:
    """Run a documented curl command line as a shell would, in *cwd* (where
    its ``jar`` goes)."""
    require_binary("curl", CURL_HINT)
    done = subprocess.run(
        shell(command), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def wait_for_walkthrough(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Return once the demo on *port* has printed its walkthrough to *log*.

    It listens first and prints after, so a port that answers is not yet
    enough: a test that read the log then found no curl lines in it."""
    printed = demo.walkthrough(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while printed not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no walkthrough on {port}: {log.read_text()}"
        time.sleep(0.05)


def test_the_printed_walkthrough_runs_verbatim_with_curl(tmp_path: Path) -> None:
    """The five curl lines demo.py prints, run as printed, print what their
    comments say."""
    port = free_port()
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "demo.py", f"--port={port}"], cwd=ROOT, stdout=out, stderr=out
        )
    try:
        wait_for_walkthrough(port, proc, log)
        lines = curl_lines(log.read_text())
        assert len(lines) == 5, log.read_text()
        for command, expected in lines:
            assert command.startswith("curl -c jar -b jar http://127.0.0.1:")
            assert run_curl(command, tmp_path) == expected + "\n", command
    finally:
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in log.read_text()


def recipe() -> list[str]:
    """The command lines of docs/deployment.rst's "A recipe on one machine"."""
    text = (ROOT / "docs" / "deployment.rst").read_text()
    section = text[text.index("A recipe on one machine") :]
    block = section[section.index(".. code-block:: console") :].splitlines()[1:]
    lines = []
    for line in block:
        if line.startswith("   $ "):
            lines.append(line.removeprefix("   $ "))
        elif lines:
            break
    return lines


def test_the_deployment_recipe_runs_verbatim_through_make_demo(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    """docs/deployment.rst's two-process recipe, line by line as a shell
    runs it: ``make demo-env``, the key in the environment, two ``make
    demo ARGS=...`` in the background on one Redis, and the curl lines,
    whose output is what their comments say. The test's own redis-server
    stands in for the first line, free ports for the recipe's."""
    require_binary("make", MAKE_HINT)
    lines = recipe()
    assert lines[0] == 'redis-server --port 6380 --save "" --appendonly no --daemonize yes'
    ports = {"6380": str(own_redis.port), "8001": str(free_port()), "8002": str(free_port())}

    def here(line: str) -> str:
        for documented, free in ports.items():
            line = line.replace(documented, free)
        return line

    # The recipe runs as in a fresh shell: not with this run's secret, nor
    # with the variables of a make that started the tests (make passes its
    # command line, say PYTHON=.../python3.13 VENV=.venv-3.13, to every make
    # below it, and exports it: with that PYTHON, the recipe's make
    # demo-env rebuilt the developer's .venv for 3.13 and the demo only).
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TORNSESS_SECRET", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV", "PYTHON")
    }
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        # These tests run in the .venv that make demo reuses: have make check
        # it against the Python that made it, as it was made by make, so
        # that a python3 of another version does not rebuild it under them.
        env["PYTHON"] = os.path.realpath(sys.executable)
    demos: list[tuple[subprocess.Popen[bytes], Path]] = []
    curls = 0
    try:
        for line in map(here, lines[1:]):
            if line.startswith("export "):
                name = line.removeprefix("export ").partition("=")[0]
                shown = subprocess.run(
                    shell(f'{line} && printf %s "${name}"'),
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=True,
                )
                assert len(shown.stdout) >= 32, shown
                env[name] = shown.stdout
            elif line.endswith(" &"):
                log = tmp_path / f"demo{len(demos)}.log"
                with open(log, "wb") as out:
                    proc = subprocess.Popen(
                        shell(line.removesuffix(" &")),
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=out,
                        start_new_session=True,
                    )
                demos.append((proc, log))
            elif line.startswith("curl "):
                if curls == 0:  # "wait until both have printed their walkthrough"
                    for (proc, log), port in zip(
                        demos, (ports["8001"], ports["8002"]), strict=True
                    ):
                        wait_for_walkthrough(int(port), proc, log)
                command, _, expected = line.partition("#")
                assert run_curl(command, tmp_path) == expected.strip() + "\n", line
                curls += 1
                if curls == 1:  # logged in: a signed cookie, longer than a bare id
                    assert len(jar_value(tmp_path / "jar", demo.COOKIE) or "") > 43
            else:
                subprocess.run(shell(line), cwd=ROOT, env=env, check=True, timeout=600)
        assert (len(demos), curls) == (2, 4)
        assert jar_value(tmp_path / "jar", demo.COOKIE) is None  # logged out
        for _, log in demos:
            text = log.read_text()
            assert "--encoder=signed --store=redis://127.0.0.1:" in text  # make's echo
            assert "secret cake" in text and "will not survive a restart" not in text
    finally:
        for proc, _ in demos:  # as `kill %1 %2` does: the whole job
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    for _, log in demos:
        assert "demo.py: stopped" in log.read_text()
