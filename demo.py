"""The "secret cake" example of the Iris sessions documentation, on Tornado.

Run ``python demo.py`` (or ``make demo``) and follow the curl walkthrough it
prints: ``/secret`` is forbidden until ``/login``; ``/logout`` ends it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import tornado.escape
import tornado.web
from tornado.options import define, options, parse_command_line

import tornsess
from tornsess import SessionMixin
from tornsess.encoders import encoding_from_settings
from tornsess.keys import generate_key

COOKIE = "mycookiesessionnameid"

define("port", default=8080, type=int, help="port to listen on")
define("address", default="127.0.0.1", help="address to listen on")
define("encoder", default="plain", help="cookie encoder: plain, signed or secretbox")
define(
    "secret",
    default=None,
    help="key material for signed/secretbox (default: $TORNSESS_SECRET, else a random one)",
)
define("store", default="memory", help="session store: memory, sqlite:PATH or redis://HOST:PORT/DB")


PAGES = (
    ("/secret", "Secret"),
    ("/login", "Log in"),
    ("/sessions", "Your devices"),
    ("/logout", "Log out"),
)

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title} - tornsess demo</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 48rem;
       margin: 3rem auto; padding: 0 1rem; }}
nav a {{ margin-right: 1rem; }}
.state {{ color: #555; }}
table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
td, th {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }}
form {{ display: inline; }}
</style>
</head>
<body>
<nav>{nav}</nav>
<h1>{title}</h1>
<p id="message">{message}</p>
<p class="state" id="state">{state}</p>
{extra}
</body>
</html>
"""


class DemoHandler(SessionMixin, tornado.web.RequestHandler):
    """Answers curl in plain text and a browser with a small HTML page."""

    def logged_in(self) -> bool:
        session = self.sessions.get(self)
        return session is not None and session.get_boolean_default("authenticated", False)

    def wants_html(self) -> bool:
        return "text/html" in self.request.headers.get("Accept", "")

    def reply(self, title: str, message: str, status: int = 200, extra: str = "") -> None:
        self.set_status(status)
        if not self.wants_html():
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(message + "\n")
            return
        escape = tornado.escape.xhtml_escape
        nav = "".join(f'<a href="{href}">{escape(label)}</a>' for href, label in PAGES)
        state = "You are logged in." if self.logged_in() else "You are not logged in."
        self.finish(
            PAGE.format(
                title=escape(title), nav=nav, message=escape(message), state=state, extra=extra
            )
        )


class HomeHandler(DemoHandler):
    def get(self) -> None:
        self.reply("The secret cake", "Log in to see the secret: /login, /secret, /logout.")


class SecretHandler(DemoHandler):
    def get(self) -> None:
        if not self.logged_in():
            self.reply("Forbidden", "Forbidden", 403)
            return
        self.reply("Secret", "The cake is a lie!")


class LoginHandler(DemoHandler):
    async def get(self) -> None:
        # Authentication goes here. login() binds the session to the user and
        # gives it a new id (against session fixation).
        await self.session.login(self.get_argument("user", "alice"))
        self.session.set("authenticated", True)
        self.reply("Logged in", "You are logged in.")


class LogoutHandler(DemoHandler):
    async def get(self) -> None:
        await self.sessions.destroy(self)
        self.reply("Logged out", "You are logged out.")


class SessionsHandler(DemoHandler):
    """The visitor's devices: where they are logged in, with a button to log
    out one device and one to log out all the others."""

    async def get(self) -> None:
        user = self.current_user
        if not user or not self.logged_in():
            self.reply("Forbidden", "Forbidden", 403)
            return
        devices = await self.sessions.user_sessions(user, handler=self)
        escape = tornado.escape.xhtml_escape
        lines, rows = [], []
        for device in devices:
            seen = device.last_seen.strftime("%Y-%m-%d %H:%M UTC")
            since = device.created.strftime("%Y-%m-%d %H:%M UTC")
            where = device.ip or "-"
            browser = device.user_agent or "-"
            mark = "this device" if device.current else ""
            lines.append(f"{device.handle}  since {since}  seen {seen}  {where}  {mark}".rstrip())
            button = (
                ""
                if device.current
                else f'<form method="post" action="/sessions/revoke">'
                f'<input type="hidden" name="handle" value="{escape(device.handle)}">'
                f'<button type="submit">Log out</button></form>'
            )
            rows.append(
                f'<tr class="device" data-current="{str(device.current).lower()}">'
                f"<td>{escape(since)}</td><td>{escape(seen)}</td><td>{escape(where)}</td>"
                f"<td>{escape(browser[:48])}</td><td>{escape(mark)}</td><td>{button}</td></tr>"
            )
        table = (
            "<table><tr><th>Since</th><th>Last seen</th><th>IP</th><th>Browser</th>"
            "<th></th><th></th></tr>" + "".join(rows) + "</table>"
            '<form method="post" action="/sessions/revoke-others">'
            '<button type="submit" id="others">Log out all other devices</button></form>'
        )
        message = f"{user} is logged in on {len(devices)} device(s)."
        if not self.wants_html():
            self.reply("Your devices", "\n".join([message, *lines]))
            return
        self.reply("Your devices", message, extra=table)


class RevokeHandler(DemoHandler):
    async def post(self, which: str) -> None:
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
    Application's ``cookie_secret``.
    """
    database = make_database(store)
    if encoder == "plain":
        sessions = tornsess.Sessions(cookie=COOKIE, record_client=True)
    elif encoder in ("signed", "secretbox"):
        if not secret:
            raise tornsess.ConfigError("secret", f"the {encoder} encoder needs a secret")
        encoding = encoding_from_settings(encoder, {"cookie_secret": secret})
        sessions = tornsess.Sessions(cookie=COOKIE, encoding=encoding, record_client=True)
    else:
        raise tornsess.ConfigError(
            "encoder", f"unknown encoder {encoder!r} (plain, signed, secretbox)"
        )
    if database is not None:
        sessions.use_database(database)
    return sessions


def make_database(store: str) -> tornsess.Database | None:
    """The store named by ``--store`` (``None``: the default memory store)."""
    if store == "memory":
        return None
    if store.startswith("sqlite:") and len(store) > len("sqlite:"):
        from tornsess.sessiondb import SQLiteDatabase

        return SQLiteDatabase(store[len("sqlite:") :])
    if store.startswith(("redis://", "rediss://", "unix://")):
        from tornsess.sessiondb import RedisDatabase

        return RedisDatabase(store)
    raise tornsess.ConfigError(
        "store", f"unknown store {store!r} (memory, sqlite:PATH, redis://HOST:PORT/DB)"
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
    """The demo Application."""
    return tornado.web.Application(
        [
            (r"/", HomeHandler),
            (r"/secret", SecretHandler),
            (r"/login", LoginHandler),
            (r"/logout", LogoutHandler),
            (r"/sessions", SessionsHandler),
            (r"/sessions/(revoke|revoke-others)", RevokeHandler),
            (r"/favicon.ico", FaviconHandler),
        ],
        sessions=sessions or make_sessions(),
        **settings,
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
