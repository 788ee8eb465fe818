"""Without the mixin: ``await sessions.start(self)``, the ``handler()``
decorator, and cookie options."""

from __future__ import annotations

import asyncio

import tornado.web

from tornsess import Sessions, cookie_path, cookie_same_site

sessions = Sessions(cookie="cart")


class Cart(tornado.web.RequestHandler):
    async def post(self) -> None:
        session = await sessions.start(self, cookie_path("/shop"))
        items = session.get("items", [])
        items.append(self.get_body_argument("item"))
        session.set("items", items)
        self.finish({"items": items})  # stored before the response is sent


class Checkout(tornado.web.RequestHandler):
    @sessions.handler(cookie_path("/shop"), cookie_same_site("Strict"))
    def get(self) -> None:
        session = sessions.get(self)
        assert session is not None
        self.finish({"items": session.get("items", [])})


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/shop/cart", Cart), (r"/shop/checkout", Checkout)])


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
