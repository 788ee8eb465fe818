"""The "secret cake" example of the Iris sessions documentation, on Tornado.

Run ``python demo.py`` (or ``make demo``) and follow the curl walkthrough it
prints: ``/secret`` is forbidden until ``/login``; ``/logout`` ends it. In a
browser, log in with the form at the top of every page; ``/sessions`` lists
your devices and logs them out; ``/live`` eats the cake a slice at a time
over a WebSocket, whose handler reads and stores the session (and is closed
with code 1008 when the session is logged out elsewhere).

Demos get copied into production, so this one defends every request that
changes a session (log in, log out, log out one device, log out the others)
the way an application should:

- **Browser pages change state with POST forms only**, each carrying
  Tornado's XSRF token (``xsrf_cookies=True`` and ``self.xsrf_form_html()``
  in every form). Tornado refuses a POST without a valid token (403).
- **Requests that another site started are refused** (403), on POST and GET
  alike, from the browser's Fetch Metadata: ``Sec-Fetch-Site: cross-site``,
  and ``same-site`` too, which is a sibling subdomain. The XSRF token alone
  does not stop a sibling: it is compared with the ``_xsrf`` cookie, and
  ``shop.example.com`` may set cookies for all of ``example.com`` (cookie
  tossing). Without Fetch Metadata (an older browser), an ``Origin`` or
  ``Referer`` that names another host is refused instead. A prefetch or
  prerender (``Sec-Purpose``, ``Purpose: prefetch``) is refused as well.
- **The session cookie is host-only** (``disable_subdomain_persistence``):
  a sibling subdomain is never even sent it.
- **The live page's WebSocket keeps Tornado's origin check**: a handshake
  whose ``Origin`` is another site's, or another origin of this site's, is
  refused (403), so another page cannot use the visitor's session on it (a
  WebSocket handshake carries no XSRF token; ``Origin`` is what a browser
  always sends on one). It is closed at ``open()`` (1008) without a
  logged-in session.

Why ``GET /login`` and ``GET /logout`` still change state: the curl
walkthrough uses them, and a name typed in the address bar
(``/login?user=bob``) is handy. What that costs: GET is meant to be safe, so
anything may send one without asking the user: a link or a script's
``location = ...`` on another site (a top-level navigation, which carries the
``SameSite=Lax`` session cookie), a link preview, a crawler, a browser
prefetching or prerendering a URL as it is typed. A logout GET is a
one-click denial of service, and a login GET lets another site log the
visitor into the attacker's account (login CSRF). So a state-changing GET is
accepted only when it cannot be one of those: ``Sec-Fetch-Site`` says
``none`` (the user typed the URL or opened a bookmark) or ``same-origin``,
or no browser header is there at all (curl sends neither ``Sec-Fetch-Site``
nor ``Origin``; every current browser sends ``Sec-Fetch-Site`` on every
request). The residual risk is a browser too old for Fetch Metadata (Safari
before 16.4) led by a page that hides its ``Referer``. An application
without curl users should answer GET with a page and change state on POST
only. (Tornado 6.6's ``cross_origin_protection`` setting does the Fetch
Metadata check for POST; this demo checks GET too, and runs on Tornado 6.3.)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import sys
import urllib.parse
from typing import Any

import tornado.escape
import tornado.httputil
import tornado.web
import tornado.websocket
from tornado.options import define, options, parse_command_line

import tornsess
from tornsess import SessionMixin
from tornsess.encoders import encoding_from_settings
from tornsess.keys import generate_key

COOKIE = "mycookiesessionnameid"
DEFAULT_USER = "alice"
MAX_NAME = 64
SLICES = "slices"  # the live page's session value

define("port", default=8080, type=int, help="port to listen on")
define("address", default="127.0.0.1", help="address to listen on")
define("encoder", default="plain", help="cookie encoder: plain, signed or secretbox")
define(
    "secret",
    default=None,
    help="key material for signed/secretbox (default: $TORNSESS_SECRET, else a random one)",
)
define("store", default="memory", help="session store: memory, sqlite:PATH or redis://HOST:PORT/DB")

escape = tornado.escape.xhtml_escape

PAGES = (
    ("/", "Home"),
    ("/secret", "Secret"),
    ("/sessions", "Your devices"),
)
# In the nav only when logged in, before "Your devices".
LIVE_PAGE = ("/live", "Live")

STYLE = """\
body { font: 16px/1.5 system-ui, sans-serif; color: #1f2328; max-width: 56rem;
       margin: 0 auto; padding: 0 1.25rem 3rem; }
header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
         gap: .5rem 1.5rem; padding: .9rem 0; border-bottom: 1px solid #d8dee4;
         margin-bottom: 1.5rem; }
nav { display: flex; gap: 1.25rem; }
nav a { color: #0969da; text-decoration: none; }
nav a[aria-current] { color: inherit; font-weight: 600; }
#account { display: flex; align-items: center; gap: .6rem; white-space: nowrap; }
#account .who { font-weight: 600; }
form { display: inline-flex; align-items: center; gap: .4rem; margin: 0; white-space: nowrap; }
label { color: #57606a; }
input { font: inherit; padding: .2rem .5rem; width: 9rem; border: 1px solid #d0d7de;
        border-radius: .375rem; }
button { font: inherit; padding: .25rem .85rem; border: 1px solid #d0d7de; border-radius: .375rem;
         background: #f6f8fa; color: inherit; cursor: pointer; white-space: nowrap; }
button:hover { background: #eef1f4; }
button.danger { color: #cf222e; }
button.danger:hover { background: #cf222e; border-color: #cf222e; color: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
#message { font-size: 1.1rem; }
.state { color: #57606a; }
.hint { color: #57606a; }
.refused { border-left: 4px solid #cf222e; padding: .2rem .8rem; background: #fff5f5; }
code { font-size: .9em; background: #f6f8fa; padding: .1rem .3rem; border-radius: .25rem; }
pre { background: #f6f8fa; padding: .5rem .75rem; border-radius: .375rem; overflow-x: auto; }
pre code { padding: 0; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .55rem .6rem; border-bottom: 1px solid #d8dee4;
         vertical-align: middle; }
th { color: #57606a; font-size: .9rem; font-weight: 600; }
tr.device td { height: 2.4rem; }
td.nowrap, td.action { white-space: nowrap; }
td.action { text-align: right; }
.agent { cursor: help; text-decoration: underline dotted #8c959f; }
.badge { display: inline-block; padding: .05rem .65rem; border-radius: 1rem; font-size: .85rem;
         background: #ddf4ff; color: #0550ae; white-space: nowrap; }
.others { display: flex; justify-content: flex-end; }
button.primary { background: #1f883d; border-color: #1a7f37; color: #fff; font-weight: 600; }
button.primary:hover { background: #1a7f37; }
button:disabled, button:disabled:hover { background: #f6f8fa; border-color: #d0d7de;
                                         color: #8c959f; cursor: not-allowed; }
#live { border: 1px solid #d8dee4; border-radius: .5rem; margin: 1.25rem 0; }
#live .counter { display: flex; flex-wrap: wrap; align-items: center;
                 justify-content: space-between; gap: 1rem 2rem; padding: 1.25rem 1.5rem; }
#live .counter > div { display: flex; align-items: baseline; }
#count { font-size: 3rem; font-weight: 700; line-height: 1; font-variant-numeric: tabular-nums; }
#unit { color: #57606a; margin-left: .5rem; }
#status { margin: 0; padding: .6rem 1.5rem; border-top: 1px solid #d8dee4; background: #f6f8fa;
          border-radius: 0 0 .5rem .5rem; color: #57606a; }
#status::before { content: ""; display: inline-block; width: .55rem; height: .55rem;
                  margin-right: .55rem; border-radius: 50%; background: #8c959f;
                  vertical-align: .05rem; }
#live[data-state="open"] #status::before { background: #1f883d; }
#live[data-state="ended"] { border-color: #cf222e; }
#live[data-state="ended"] #status { background: #fff5f5; border-top-color: #cf222e;
                                    color: #cf222e; font-weight: 600; }
#live[data-state="ended"] #status a { color: inherit; }
#live[data-state="ended"] #status::before,
#live[data-state="closed"] #status::before { background: #cf222e; }
@media (max-width: 40rem) { .wide { display: none; } }
"""

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title} - tornsess demo</title>
<style>
{style}</style>
</head>
<body>
<header><nav>{nav}</nav><div id="account">{account}</div></header>
<main>
<h1>{title}</h1>
<p id="message"{message_class}>{message}</p>
{state}{extra}
</main>
</body>
</html>
"""

# -- telling devices apart -------------------------------------------------------------

_PRODUCT = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)/([0-9][0-9A-Za-z_.]*)")
# Checked in this order: Edge, Opera and the others also name Chrome and
# Safari in their User-Agent, and Chrome names Safari.
_BROWSERS = (
    ("Edg", "Edge"),
    ("EdgA", "Edge"),
    ("EdgiOS", "Edge"),
    ("OPR", "Opera"),
    ("SamsungBrowser", "Samsung Internet"),
    ("YaBrowser", "Yandex Browser"),
    ("Vivaldi", "Vivaldi"),
    ("FxiOS", "Firefox"),
    ("Firefox", "Firefox"),
    ("CriOS", "Chrome"),
    ("HeadlessChrome", "Headless Chrome"),
    ("Chromium", "Chromium"),
    ("Chrome", "Chrome"),
)
# Android's agents also say Linux, iPhones' say "like Mac OS X".
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
    ("FreeBSD", "FreeBSD"),
    ("OpenBSD", "OpenBSD"),
)
# Tokens that name no browser of their own.
_ENGINE_TOKENS = {"Mozilla", "AppleWebKit", "Gecko", "KHTML", "Version", "Safari", "Mobile"}


def _version(text: str, parts: int) -> str:
    return ".".join(text.split(".")[:parts])


def describe_agent(agent: str | None) -> str:
    """A short name for the client that sent *agent* (a User-Agent header),
    such that a person can tell their devices apart: ``"Chrome 131 on
    Linux"``, ``"Firefox 133 on Windows"``, ``"Safari 17 on iOS"``, ``"curl
    8.5"``. Browsers get their major version and system; other programs
    their name and major.minor version; anything else its first 40
    characters.

    A few lines of our own rather than ``ua-parser`` (uap-core's 200 KB of
    patterns): a device list needs a handful of families, and the full
    header goes in the page's tooltip anyway."""
    agent = (agent or "").strip()
    if not agent:
        return "Unknown client"
    products: dict[str, str] = {}
    for name, version in _PRODUCT.findall(agent):
        products.setdefault(name, version)
    if not agent.startswith("Mozilla/"):
        match = _PRODUCT.match(agent)
        if match:
            return f"{match[1]} {_version(match[2], 2)}"
        return agent if len(agent) <= 40 else agent[:39] + "\u2026"
    browser = next(
        (
            f"{label} {_version(products[token], 1)}"
            for token, label in _BROWSERS
            if token in products
        ),
        None,
    )
    if browser is None and "Safari" in products and "Version" in products:
        browser = f"Safari {_version(products['Version'], 1)}"
    if browser is None:
        other = next((name for name in products if name not in _ENGINE_TOKENS), None)
        if other is None:
            return agent if len(agent) <= 40 else agent[:39] + "\u2026"
        return f"{other} {_version(products[other], 2)}"
    comment = agent[agent.find("(") + 1 : agent.find(")")] if "(" in agent else ""
    system = next((label for token, label in _SYSTEMS if token in comment), None)
    return browser if system is None else f"{browser} on {system}"


# -- requests that change the session ----------------------------------------------


def _names_this_host(url: str, host: str) -> bool:
    """Whether the Origin or Referer *url* is on *host* (host and port, as
    the Host header gives them; the scheme is left out, as Tornado does,
    since a proxy may terminate TLS)."""
    return urllib.parse.urlsplit(url).netloc.lower() == host.lower()


def foreign_request(request: tornado.httputil.HTTPServerRequest) -> str | None:
    """Why *request* must not change the session: another site, or a
    prefetch, may have started it. ``None`` when it may."""
    headers = request.headers
    if "Sec-Purpose" in headers or "prefetch" in headers.get("Purpose", "").lower():
        return "a prefetch or prerender cannot change your session"
    site = headers.get("Sec-Fetch-Site")
    if site in ("same-origin", "none"):  # this site's pages; a typed URL or a bookmark
        return None
    if site in ("cross-site", "same-site"):
        return f"another site started this request (Sec-Fetch-Site: {site})"
    if site is not None:
        return "an unknown Sec-Fetch-Site value"
    for name in ("Origin", "Referer"):
        value = headers.get(name)
        if value is not None and not _names_this_host(value, request.host):
            return f"another site started this request ({name} names another host)"
    return None  # no browser header at all: curl and other programs


# -- pages -------------------------------------------------------------------------------


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def logged_in(session: tornsess.Session | None) -> bool:
    """Whether *session* (``None``: none, or destroyed) is logged in."""
    return session is not None and session.get_boolean_default("authenticated", False)


def slices_eaten(session: tornsess.Session) -> int:
    """The live page's count, kept in the session."""
    return session.get_int_default(SLICES, 0)


class DemoHandler(SessionMixin, tornado.web.RequestHandler):
    """Answers curl in plain text and a browser with a small HTML page."""

    def logged_in(self) -> bool:
        return logged_in(self.sessions.get(self))

    def forbid_visitor(self, why: str) -> None:
        """403 for a visitor who is not logged in: ``Forbidden`` for curl, a
        page saying *why*, with how to log in, for a browser."""
        self.reply("Forbidden", "Forbidden", 403, html=why, extra=login_hint(self.origin(), "NAME"))

    def wants_html(self) -> bool:
        return "text/html" in self.request.headers.get("Accept", "")

    def origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    def account(self) -> str:
        """The header's right side: who is logged in and a logout button,
        or the login form."""
        xsrf = self.xsrf_form_html()
        if self.logged_in():
            return (
                f'<span class="who" id="who">{escape(str(self.current_user))}</span>'
                f'<form method="post" action="/logout">{xsrf}'
                '<button type="submit" id="logout">Log out</button></form>'
            )
        return (
            f'<form method="post" action="/login" id="login-form">{xsrf}'
            '<label for="user">Name</label>'
            f'<input id="user" name="user" value="{DEFAULT_USER}" maxlength="{MAX_NAME}" required>'
            '<button type="submit" id="login">Log in</button></form>'
        )

    def page(
        self,
        title: str,
        message: str,
        *,
        extra: str = "",
        account: bool = True,
        refused: bool = False,
    ) -> str:
        """The HTML page; *message* is text (escaped here), *extra* HTML."""
        pages = list(PAGES)
        if self.logged_in():
            pages.insert(-1, LIVE_PAGE)
        nav = "".join(
            f'<a href="{href}"{" aria-current=page" if href == self.request.path else ""}>'
            f"{escape(label)}</a>"
            for href, label in pages
        )
        state = ""
        if account:
            text = "You are logged in." if self.logged_in() else "You are not logged in."
            state = f'<p class="state" id="state">{text}</p>\n'
        return PAGE.format(
            title=escape(title),
            style=STYLE,
            nav=nav,
            account=self.account() if account else "",
            message=escape(message),
            message_class=' class="refused"' if refused else "",
            state=state,
            extra=extra,
        )

    def reply(
        self,
        title: str,
        message: str,
        status: int = 200,
        *,
        html: str | None = None,
        extra: str = "",
        refused: bool = False,
    ) -> None:
        """*message* as text/plain for curl; for a browser, a page titled
        *title* that says *html* (text; default *message*), then *extra*."""
        self.set_status(status)
        if not self.wants_html():
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(message + "\n")
            return
        page = self.page(title, message if html is None else html, extra=extra, refused=refused)
        self.finish(page)

    def refuse_foreign(self) -> bool:
        """Answer 403 (and return True) if another site may have started
        this state-changing request; see the module's docstring."""
        reason = foreign_request(self.request)
        if reason is None:
            return False
        self.reply(
            "Forbidden",
            f"Forbidden: {reason}",
            403,
            html=f"Refused: {reason}. Only this site's own pages can log you in or out.",
            refused=True,
        )
        return True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Error pages in the demo's style, with nothing from the session
        (which may be what failed)."""
        reason = http.client.responses.get(status_code, "Error")
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = reason
        if isinstance(error, tornado.web.HTTPError) and "xsrf" in (error.log_message or "").lower():
            message = (
                "Forbidden: this form came without a valid XSRF token "
                "(from another page, or an old copy of this one). Reload the page and try again."
            )
        if not self.wants_html():
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(message + "\n")
            return
        self.finish(self.page(reason, message, account=False, refused=status_code == 403))


def login_hint(origin: str, name: str, lead: str = "") -> str:
    """How to log in (as *name*), as HTML, after *lead* (HTML)."""
    url = f"{origin}/login?user={urllib.parse.quote(name)}"
    return (
        f'<div class="hint" id="hint"><p>{lead}There is no password in this demo: any name '
        "logs in, with the form at the top or by opening "
        "<code>/login?user=NAME</code> in the address bar. From a terminal:</p>\n"
        f"<pre><code>curl -c jar -b jar {escape(url)}</code></pre></div>\n"
    )


class HomeHandler(DemoHandler):
    def get(self) -> None:
        intro = (
            "<p>The secret cake is for logged-in visitors only. Your session lives in the "
            f"<code>{COOKIE}</code> cookie (HttpOnly, SameSite=Lax, on this host only); "
            '<a href="/sessions">Your devices</a> lists where you are logged in.</p>\n'
        )
        self.reply(
            "The secret cake",
            "Log in to see the secret: /login, /secret, /logout.",
            html="Open Secret to see it." if self.logged_in() else "Log in to see the secret.",
            extra=intro + login_hint(self.origin(), "NAME"),
        )


class SecretHandler(DemoHandler):
    def get(self) -> None:
        if not self.logged_in():
            self.forbid_visitor("The secret is for logged-in visitors only.")
            return
        self.reply("Secret", "The cake is a lie!")


class LoginHandler(DemoHandler):
    """``POST /login`` from the form; ``GET /login?user=NAME`` for curl and a
    typed URL (refused when another site started it)."""

    async def get(self) -> None:
        if not self.refuse_foreign():
            await self.log_in(self.get_query_argument("user", DEFAULT_USER))

    async def post(self) -> None:
        if not self.refuse_foreign():
            await self.log_in(self.get_body_argument("user", DEFAULT_USER))

    async def log_in(self, name: str) -> None:
        name = name.strip() or DEFAULT_USER
        if len(name) > MAX_NAME or not name.isprintable():
            self.reply("Bad name", f"A name has at most {MAX_NAME} printable characters.", 400)
            return
        # Authentication goes here. login() binds the session to the user and
        # gives it a new id (against session fixation).
        await self.session.login(name)
        self.session.set("authenticated", True)
        if self.wants_html():
            self.redirect("/sessions", status=303)  # a reload does not log in again
            return
        self.reply("Logged in", "You are logged in.")


class LogoutHandler(DemoHandler):
    """``POST /logout`` from the button; ``GET /logout`` for curl and a
    typed URL (refused when another site started it)."""

    async def get(self) -> None:
        if not self.refuse_foreign():
            await self.log_out()

    async def post(self) -> None:
        if not self.refuse_foreign():
            await self.log_out()

    async def log_out(self) -> None:
        await self.sessions.destroy(self)
        self.reply("Logged out", "You are logged out.")


class SessionsHandler(DemoHandler):
    """The visitor's devices: where they are logged in, with a button to log
    out one device and one to log out all the others."""

    async def get(self) -> None:
        user = self.current_user
        if not user or not self.logged_in():
            self.reply(
                "Forbidden",
                "Forbidden",
                403,
                html="Log in to see the devices you are logged in on.",
                extra=login_hint(self.origin(), "NAME"),
            )
            return
        devices = await self.sessions.user_sessions(user, handler=self)
        devices.sort(key=lambda device: not device.current)  # this one first, then newest
        message = f"{user} is logged in on {plural(len(devices), 'device')}."
        if not self.wants_html():
            lines = [message]
            for device in devices:
                since = device.created.strftime("%Y-%m-%d %H:%M UTC")
                seen = device.last_seen.strftime("%Y-%m-%d %H:%M UTC")
                mark = "this device" if device.current else ""
                lines.append(
                    f"{device.handle}  {describe_agent(device.user_agent)}  since {since}  "
                    f"seen {seen}  {device.ip or '-'}  {mark}".rstrip()
                )
            self.reply("Your devices", "\n".join(lines))
            return
        self.reply("Your devices", message, extra=self.devices_table(str(user), devices))

    def devices_table(self, user: str, devices: list[tornsess.SessionInfo]) -> str:
        xsrf = self.xsrf_form_html()
        rows = []
        for device in devices:
            agent = device.user_agent or ""
            if device.current:
                action = '<span class="badge">This device</span>'
            else:
                action = (
                    f'<form method="post" action="/sessions/revoke">{xsrf}'
                    f'<input type="hidden" name="handle" value="{escape(device.handle)}">'
                    '<button type="submit" class="danger">Log out</button></form>'
                )
            rows.append(
                f'<tr class="device" data-current="{str(device.current).lower()}" '
                f'data-handle="{escape(device.handle)}">'
                f'<td><span class="agent" title="{escape(agent)}">'
                f"{escape(describe_agent(agent))}</span></td>"
                f'<td class="nowrap wide">{escape(device.ip or "-")}</td>'
                f'<td class="nowrap wide">{device.created.strftime("%Y-%m-%d %H:%M")}</td>'
                f'<td class="nowrap">{device.last_seen.strftime("%Y-%m-%d %H:%M")}</td>'
                f'<td class="action">{action}</td></tr>'
            )
        table = (
            '<div class="table"><table id="devices"><thead><tr><th>Browser</th>'
            '<th class="wide">IP address</th><th class="wide">Logged in (UTC)</th>'
            "<th>Last seen (UTC)</th><th></th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table></div>\n"
        )
        if any(not device.current for device in devices):
            table += (
                f'<div class="others"><form method="post" action="/sessions/revoke-others">{xsrf}'
                '<button type="submit" id="others" class="danger">'
                "Log out all other devices</button></form></div>\n"
            )
        lead = (
            "To add a device, open this demo in another browser or a private window "
            f"and log in there as <strong>{escape(user)}</strong>. "
        )
        return table + login_hint(self.origin(), user, lead)


class RevokeHandler(DemoHandler):
    async def post(self, which: str) -> None:
        if self.refuse_foreign():
            return
        user = self.current_user
        if not user or not self.logged_in():
            self.reply("Forbidden", "Forbidden", 403)
            return
        if which == "revoke-others":
            await self.sessions.destroy_user(user, keep=self.session.handle)
        else:
            handle = self.get_body_argument("handle", "")
            mine = {d.handle for d in await self.sessions.user_sessions(user)}
            if handle in mine:  # only this user's own devices
                await self.sessions.destroy_by_handle(handle)
        self.redirect("/sessions", status=303)


# -- the live page: a session on a WebSocket ------------------------------------------

# The page's script. Everything it shows goes in with textContent (the name
# too), never as markup; it builds no URL from the page's content.
LIVE_SCRIPT = """\
<script>
(() => {
  const live = document.getElementById("live");
  const count = document.getElementById("count");
  const unit = document.getElementById("unit");
  const eat = document.getElementById("eat");
  const status = document.getElementById("status");
  const element = (tag, text) => {
    const made = document.createElement(tag);
    made.textContent = text;
    return made;
  };
  const say = (state, ...parts) => {
    live.dataset.state = state;
    status.replaceChildren(...parts);
  };
  const show = (slices) => {
    count.textContent = String(slices);
    unit.textContent = slices === 1 ? "slice eaten" : "slices eaten";
  };
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/live/socket");
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (Number.isInteger(data.slices)) show(data.slices);
    if (typeof data.user === "string") {  // open() read the session
      say("open", "Connected as ", element("strong", data.user), " over a WebSocket.");
      eat.disabled = false;
    }
  });
  socket.addEventListener("close", (event) => {
    eat.disabled = true;
    if (event.code === 1008) {  // the session was destroyed (or never was)
      const again = element("a", "log in again");
      again.href = "/live";
      say("ended", "Your session ended: ", again, ".");
      document.getElementById("state").textContent = "You are not logged in.";
      document.getElementById("account").style.visibility = "hidden";  // no stale name
    } else {
      say("closed", "Disconnected from the server: reload the page to reconnect.");
    }
  });
  eat.addEventListener("click", () => socket.send("eat"));
  // Back on this tab: show what the other tabs stored meanwhile.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && socket.readyState === WebSocket.OPEN) socket.send("refresh");
  });
})();
</script>
"""


def live_box(slices: int) -> str:
    """The live page's counter, button and connection status, as HTML."""
    unit = "slice eaten" if slices == 1 else "slices eaten"
    return (
        '<div id="live" data-state="connecting"><div class="counter">'
        f'<div><span id="count">{slices}</span><span id="unit">{unit}</span></div>'
        '<button type="button" id="eat" class="primary" disabled>Eat a slice</button></div>'
        '<p id="status" role="status">Connecting\u2026</p></div>\n'
        '<noscript><p class="refused">The live page needs JavaScript.</p></noscript>\n'
        '<p class="hint">Each click is a message on a WebSocket: the handler adds one to '
        f"<code>{SLICES}</code> in your session, stores it with "
        "<code>await self.session.save()</code> and answers the new count. Another tab of "
        "this browser shows it when it loads this page. Log out in another tab, or log out "
        "all other devices from another one, and the server closes this socket "
        "(code 1008).</p>\n" + LIVE_SCRIPT
    )


class LiveHandler(DemoHandler):
    """``GET /live``: the cake slices eaten so far; in a browser, a page
    that eats more over a WebSocket (:class:`LiveSocket`)."""

    def get(self) -> None:
        if not self.logged_in():
            self.forbid_visitor("Log in to eat the cake live, one slice at a time.")
            return
        slices = slices_eaten(self.session)
        self.reply(
            "Live cake",
            f"{self.current_user} has eaten {plural(slices, 'slice')} of cake.",
            html="Eat the secret cake one slice at a time, live.",
            extra=live_box(slices),
        )


class LiveSocket(SessionMixin, tornado.websocket.WebSocketHandler):
    """``/live/socket``: the session of the handshake's cookie, on a
    WebSocket. ``open()`` says who the session is logged in as, and closes
    the socket (1008) when it is not; the message ``eat`` adds a slice and
    stores it; ``refresh`` reads what other tabs stored. A session destroyed
    in this process (a logout, a device logged out) closes the socket with
    1008 ("session ended"), and one destroyed by another process does at
    the next message.

    Tornado's ``check_origin`` is kept: a handshake whose ``Origin`` names
    another host (another site, or a sibling subdomain that was sent the
    cookie) is refused with a 403, so no other site's page can use the
    visitor's session on this socket. Programs that send no ``Origin``
    (curl, scripts) are let in, as on the pages."""

    def open(self) -> None:
        session = self.session
        if not logged_in(session):
            self.close(1008, "log in first")
            return
        self.send({"user": str(session.user_id), "slices": slices_eaten(session)})

    async def on_message(self, message: str | bytes) -> None:
        try:
            session = self.session
            if message == "eat":
                session.increment(SLICES)
                await session.save()  # nothing is stored without it
            elif message == "refresh":
                await session.refresh()
            else:
                self.close(1003, "unknown message")
                return
        except tornsess.SessionNotFound:  # destroyed, here or by another process
            self.close(1008, "session ended")
            return
        except tornsess.StoreUnavailable:
            self.close(1011, "session store unavailable")
            return
        self.send({"slices": slices_eaten(session)})

    def send(self, data: dict[str, Any]) -> None:
        """*data* as a JSON message, unless the socket was closed meanwhile.
        The name is data in a JSON string (the page shows it as text); its
        ``<``, ``>`` and ``&`` go as ``\\u`` escapes too, so that even a
        client that pasted the message into HTML would get no markup."""
        text = json.dumps(data)
        for char in "<>&":
            text = text.replace(char, f"\\u{ord(char):04x}")
        try:
            self.write_message(text)
        except tornado.websocket.WebSocketClosedError:
            pass


class FaviconHandler(tornado.web.RequestHandler):
    """No icon: 204 rather than a 404 logged as a warning on every visit."""

    def get(self) -> None:
        self.set_header("Cache-Control", "public, max-age=86400")
        self.set_status(204)
        self.finish()


def make_sessions(
    encoder: str = "plain", store: str = "memory", secret: str | None = None
) -> tornsess.Sessions:
    """The demo's session manager for ``--encoder``, ``--store`` and ``--secret``.

    Signed and SecretBox keys are derived from *secret* as from an
    Application's ``cookie_secret``. The cookie is host-only, so that a
    sibling subdomain is never sent it.
    """
    database = make_database(store)
    fields: dict[str, Any] = {
        "cookie": COOKIE,
        "record_client": True,
        "disable_subdomain_persistence": True,
    }
    if encoder in ("signed", "secretbox"):
        if not secret:
            raise tornsess.ConfigError("secret", f"the {encoder} encoder needs a secret")
        fields["encoding"] = encoding_from_settings(encoder, {"cookie_secret": secret})
    elif encoder != "plain":
        raise tornsess.ConfigError(
            "encoder", f"unknown encoder {encoder!r} (plain, signed, secretbox)"
        )
    sessions = tornsess.Sessions(**fields)
    if database is not None:
        sessions.use_database(database)
    return sessions


def make_database(store: str) -> tornsess.database.Database | None:
    """The store named by ``--store`` (``None``: the default memory store)."""
    if store == "memory":
        return None
    if store.startswith("sqlite:") and len(store) > len("sqlite:"):
        from tornsess.sessiondb import SQLiteDatabase

        return SQLiteDatabase(store[len("sqlite:") :])
    if store.startswith(("postgresql://", "postgres://")):
        from tornsess.sessiondb import PostgreSQLDatabase

        return PostgreSQLDatabase(store)
    if store.startswith(("redis://", "rediss://", "unix://")):
        from tornsess.sessiondb import RedisDatabase

        return RedisDatabase(store)
    raise tornsess.ConfigError(
        "store",
        f"unknown store {store!r} (memory, sqlite:PATH, redis://HOST:PORT/DB, postgresql://...)",
    )


def demo_secret(given: str | None) -> str:
    """``--secret``, else ``$TORNSESS_SECRET``, else a random one (with a warning)."""
    secret = given or os.environ.get("TORNSESS_SECRET")
    if secret:
        return secret
    print(
        "warning: no --secret or TORNSESS_SECRET given; using a random key, so "
        "sessions will not survive a restart",
        file=sys.stderr,
        flush=True,
    )
    return generate_key()


def make_app(sessions: tornsess.Sessions | None = None, **settings: Any) -> tornado.web.Application:
    """The demo Application: XSRF tokens on every POST (the ``_xsrf`` cookie
    HttpOnly and SameSite=Lax, since only forms read it)."""
    return tornado.web.Application(
        [
            (r"/", HomeHandler),
            (r"/secret", SecretHandler),
            (r"/login", LoginHandler),
            (r"/logout", LogoutHandler),
            (r"/sessions", SessionsHandler),
            (r"/sessions/(revoke|revoke-others)", RevokeHandler),
            (r"/live", LiveHandler),
            (r"/live/socket", LiveSocket),
            (r"/favicon.ico", FaviconHandler),
        ],
        sessions=sessions or make_sessions(),
        **{
            "xsrf_cookies": True,
            "xsrf_cookie_kwargs": {"httponly": True, "samesite": "Lax"},
            **settings,
        },
    )


def walkthrough(base: str) -> str:
    """The curl commands that show the demo at work."""
    return f"""\
tornsess demo: the secret cake, at {base}
Open it in a browser, or try with curl, keeping cookies in a jar:
  curl -c jar -b jar {base}/secret    # Forbidden
  curl -c jar -b jar {base}/login     # You are logged in.
  curl -c jar -b jar {base}/secret    # The cake is a lie!
  curl -c jar -b jar {base}/logout    # You are logged out.
  curl -c jar -b jar {base}/secret    # Forbidden
Log in as someone else with /login?user=NAME; /sessions lists your devices.
"""


async def main() -> None:
    parse_command_line()
    try:
        secret = demo_secret(options.secret) if options.encoder != "plain" else None
        sessions = make_sessions(options.encoder, options.store, secret)
    except tornsess.ConfigError as exc:
        raise SystemExit(f"demo.py: {exc}") from None
    app = make_app(sessions)
    tornsess.sessions_for(app)  # a bad sessions setting fails here, not on a request
    server = app.listen(options.port, options.address)
    print(walkthrough(f"http://{options.address}:{options.port}"), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()
    await sessions.database.close()
    print("demo.py: stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
