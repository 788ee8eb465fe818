"""Remember me: a browser-session cookie by default, 30 days on request."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import tornado.web

from tornsess import SessionMixin, Sessions

sessions = Sessions(expires=-1)  # browser-session cookie, no absolute limit


class Login(SessionMixin, tornado.web.RequestHandler):
    async def post(self) -> None:
        remember = self.get_body_argument("remember", "") == "on"
        # A new id (fixation) and, on request, a 30-day server-side lifetime
        # with the cookie's Max-Age to match.
        await self.session.login(
            self.get_body_argument("user"), remember=timedelta(days=30) if remember else None
        )
        self.finish("ok")


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/login", Login)], sessions=sessions)


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
