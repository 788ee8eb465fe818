"""The "secret cake" example of the Iris sessions documentation, on Tornado.

Run ``python demo.py`` (or ``make demo``) and follow the curl walkthrough it
prints: ``/secret`` is forbidden until ``/login``; ``/logout`` ends it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.web
from tornado.options import define, options, parse_command_line

import tornsess
from tornsess import SessionMixin

COOKIE = "mycookiesessionnameid"

define("port", default=8080, type=int, help="port to listen on")
define("address", default="127.0.0.1", help="address to listen on")
define("encoder", default="plain", help="cookie encoder: plain")
define("store", default="memory", help="session store: memory")


class SecretHandler(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        if not self.session.get_boolean_default("authenticated", False):
            self.set_status(403)
            self.finish("Forbidden")
            return
        self.finish("The cake is a lie!")


class LoginHandler(SessionMixin, tornado.web.RequestHandler):
    async def get(self) -> None:
        # Authentication goes here. A new id at login defeats session fixation.
        await self.session.regenerate()
        self.session.set("authenticated", True)
        self.finish("You are logged in.")


class LogoutHandler(SessionMixin, tornado.web.RequestHandler):
    async def get(self) -> None:
        await self.sessions.destroy(self)
        self.finish("You are logged out.")


def make_sessions(encoder: str = "plain", store: str = "memory") -> tornsess.Sessions:
    """The demo's session manager for the given ``--encoder`` and ``--store``."""
    if encoder != "plain":
        raise tornsess.ConfigError("encoder", f"unknown encoder {encoder!r} (plain)")
    if store != "memory":
        raise tornsess.ConfigError("store", f"unknown store {store!r} (memory)")
    return tornsess.Sessions(cookie=COOKIE)


def make_app(sessions: tornsess.Sessions | None = None, **settings: Any) -> tornado.web.Application:
    """The demo Application."""
    return tornado.web.Application(
        [
            (r"/secret", SecretHandler),
            (r"/login", LoginHandler),
            (r"/logout", LogoutHandler),
        ],
        sessions=sessions or make_sessions(),
        **settings,
    )


def walkthrough(base: str) -> str:
    """The curl commands that show the demo at work."""
    return f"""\
tornsess demo: the secret cake, at {base}
Try, keeping cookies in a jar:
  curl -c jar -b jar {base}/secret    # Forbidden
  curl -c jar -b jar {base}/login     # You are logged in.
  curl -c jar -b jar {base}/secret    # The cake is a lie!
  curl -c jar -b jar {base}/logout    # You are logged out.
  curl -c jar -b jar {base}/secret    # Forbidden
"""


async def main() -> None:
    parse_command_line()
    try:
        sessions = make_sessions(options.encoder, options.store)
    except tornsess.ConfigError as exc:
        raise SystemExit(f"demo.py: {exc}") from None
    app = make_app(sessions)
    app.listen(options.port, options.address)
    print(walkthrough(f"http://{options.address}:{options.port}"), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
