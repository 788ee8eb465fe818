"""The "secret cake" example of the Iris sessions documentation, on Tornado.

Run ``python demo.py`` (or ``make demo``) and follow the curl walkthrough it
prints: ``/secret`` is forbidden until ``/login``; ``/logout`` ends it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import tornado.web
from tornado.options import define, options, parse_command_line

import tornsess
from tornsess import SessionMixin
from tornsess.keys import encoding_from_settings, generate_key

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


def make_sessions(
    encoder: str = "plain", store: str = "memory", secret: str | None = None
) -> tornsess.Sessions:
    """The demo's session manager for ``--encoder``, ``--store`` and ``--secret``.

    Signed and SecretBox keys are derived from *secret* as from an
    Application's ``cookie_secret``.
    """
    database = make_database(store)
    if encoder == "plain":
        sessions = tornsess.Sessions(cookie=COOKIE)
    elif encoder in ("signed", "secretbox"):
        if not secret:
            raise tornsess.ConfigError("secret", f"the {encoder} encoder needs a secret")
        encoding = encoding_from_settings(encoder, {"cookie_secret": secret})
        sessions = tornsess.Sessions(cookie=COOKIE, encoding=encoding)
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
        secret = demo_secret(options.secret) if options.encoder != "plain" else None
        sessions = make_sessions(options.encoder, options.store, secret)
    except tornsess.ConfigError as exc:
        raise SystemExit(f"demo.py: {exc}") from None
    app = make_app(sessions)
    app.listen(options.port, options.address)
    print(walkthrough(f"http://{options.address}:{options.port}"), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
