"""Choosing a store: SQLite for one machine, Redis for several processes."""

from __future__ import annotations

import asyncio
import os

import tornado.web

from tornsess import SessionMixin, Sessions
from tornsess.database import Database
from tornsess.sessiondb import RedisDatabase, SQLiteDatabase


class Cart(SessionMixin, tornado.web.RequestHandler):
    def post(self) -> None:
        # An atomic increment: concurrent requests, even in other processes
        # sharing the store, add up.
        count = self.session.increment("items")
        self.finish({"items": count})


def make_store(where: str) -> Database:
    """``redis://...`` for Redis, anything else is a SQLite file path."""
    if where.startswith("redis://"):
        return RedisDatabase(where, timeout=1.0)
    return SQLiteDatabase(where)


def make_app(where: str) -> tornado.web.Application:
    sessions = Sessions(idle_timeout=30 * 60, expires=12 * 3600)
    sessions.use_database(make_store(where))
    return tornado.web.Application([(r"/cart", Cart)], sessions=sessions)


async def main() -> None:
    make_app(os.environ.get("SESSION_STORE", "sessions.db")).listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
