"""Flash messages across a redirect (post/redirect/get)."""

from __future__ import annotations

import asyncio

import tornado.web

from tornsess import SessionMixin


class Save(SessionMixin, tornado.web.RequestHandler):
    def post(self) -> None:
        # ... save something ...
        self.session.set_flash("notice", "Saved!")
        self.redirect("/")


class Home(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        # Read once: still readable in this request, gone from the next one.
        notice = self.session.get_flash_string_default("notice", "nothing new")
        self.finish(notice)


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/", Home), (r"/save", Save)], sessions={})


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
