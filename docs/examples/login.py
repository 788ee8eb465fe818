"""Login and logout: session.login() at login (a new id, against fixation),
destroy at logout, idle and absolute timeouts, and an on_destroy callback."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import tornado.web

from tornsess import SessionMixin, Sessions

log = logging.getLogger("example")

sessions = Sessions(
    cookie="app_session",
    expires=timedelta(hours=12),  # absolute limit, never extended by activity
    idle_timeout=timedelta(minutes=30),  # ends after 30 idle minutes
)


@sessions.on_destroy
async def audit(session_id: str) -> None:
    log.info("session ended")  # never log the id itself


class Login(SessionMixin, tornado.web.RequestHandler):
    async def post(self) -> None:
        user = self.get_body_argument("user")
        # ... check the password here ...
        await self.session.login(user)  # binds the user and gives a new id
        self.finish(f"welcome {user}")


class Me(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        user = self.session.user_id  # also self.current_user
        if user is None:
            raise tornado.web.HTTPError(401)
        self.finish(user)


class Logout(SessionMixin, tornado.web.RequestHandler):
    async def post(self) -> None:
        await self.sessions.destroy(self)  # store entry and cookie
        self.finish("bye")


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/login", Login), (r"/me", Me), (r"/logout", Logout)], sessions=sessions
    )


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
