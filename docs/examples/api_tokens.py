"""An API whose clients carry the session token in a header, not a cookie."""

from __future__ import annotations

import asyncio
import os

import tornado.web

from tornsess import SessionMixin, Sessions
from tornsess.encoders import SignedEncoder

# The key comes from the environment (make one with `python -m tornsess keygen`).
sessions = Sessions(
    header="X-Session-Token",
    encoding=SignedEncoder(os.environ["SESSION_KEY"]),
    idle_timeout=3600,
)


class Login(SessionMixin, tornado.web.RequestHandler):
    async def post(self) -> None:
        # ... check the credentials here ...
        await self.session.login(self.get_body_argument("user"))
        # The token also goes out in the X-Session-Token response header.
        self.finish({"token": self.session.token})


class Me(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        if self.current_user is None:
            raise tornado.web.HTTPError(401)
        self.finish({"user": self.current_user})


class Logout(SessionMixin, tornado.web.RequestHandler):
    async def post(self) -> None:
        await self.sessions.destroy(self)  # answers X-Session-Token: (empty)
        self.finish({"ok": True})


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/login", Login), (r"/me", Me), (r"/logout", Logout)], sessions=sessions
    )


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
