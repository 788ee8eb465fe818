"""Quickstart: a visit counter kept in the session."""

from __future__ import annotations

import asyncio

import tornado.web

from tornsess import SessionMixin, sessions_for


class Counter(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        visits = self.session.increment("visits")
        self.finish(f"You have visited this page {visits} time(s).")


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/", Counter)],
        # A dict of Config fields; a Config or a Sessions works too.
        sessions={"cookie": "quickstart", "idle_timeout": 30 * 60},
    )


async def main() -> None:
    app = make_app()
    # Build the session manager now: a mistake in the sessions setting
    # raises tornsess.ConfigError here, before serving, not on a request.
    sessions_for(app)
    app.listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
