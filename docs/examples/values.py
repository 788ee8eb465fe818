"""Typed values, typed getters, counters and immutable entries."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import tornado.web

from tornsess import ImmutableEntry, SessionMixin


class Profile(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        s = self.session
        if s.is_new:
            s.set("since", dt.date(2026, 1, 1))  # comes back as a date
            s.set("balance", Decimal("10.50"))  # and a Decimal
            s.set("age", "42")  # a numeric string
            s.set_immutable("plan", "free")  # only set_immutable may change it
        try:
            s.set("plan", "pro")
        except ImmutableEntry:
            pass
        self.finish(
            {
                "since": s.get("since").isoformat(),
                "balance": str(s.get("balance")),
                "age": s.get_int("age"),  # "42" converts to 42
                "height": s.get_float64_default("height", 1.8),  # missing: default
                "plan": s.get_string("plan"),
                "views": s.increment("views"),  # atomic across requests
            }
        )


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/profile", Profile)])


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
