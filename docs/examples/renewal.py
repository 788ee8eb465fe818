"""Periodic id renewal: a session gets a new id every 15 minutes, and
requests already on their way with the old id are not logged out."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import tornado.web

from tornsess import SessionMixin, Sessions
from tornsess.encoders import SignedEncoder

# The key comes from the environment (make one with `python -m tornsess keygen`).
sessions = Sessions(
    encoding=SignedEncoder(os.environ["SESSION_KEY"]),
    idle_timeout=timedelta(hours=2),
    renew_after=timedelta(minutes=15),  # a new id once the id is 15 minutes old
    renew_grace=timedelta(seconds=30),  # the old id still answers for 30 s
)


class Page(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        # A request whose id is due is renewed before this runs: the session
        # here already has its new id, which the response's cookie carries.
        views = self.session.increment("views")
        self.finish({"views": views})


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/", Page)], sessions=sessions)


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
