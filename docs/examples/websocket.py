"""A live counter over a WebSocket: the session is read from the handshake's
cookie, changed in on_message, and stored with save()."""

from __future__ import annotations

import asyncio

import tornado.web
import tornado.websocket

from tornsess import SessionMixin, SessionNotFound, Sessions

sessions = Sessions(cookie="live")


class Page(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        # The session must be stored (hold data) before the socket opens:
        # no cookie can follow a WebSocket.
        self.session.set("name", self.get_argument("name", "guest"))
        self.finish("open ws://HOST/counter")


class Counter(SessionMixin, tornado.websocket.WebSocketHandler):
    def open(self) -> None:
        self.write_message(f"hello {self.session.get('name')}")

    async def on_message(self, message: str | bytes) -> None:
        try:
            if message == "refresh":
                await self.session.refresh()  # what other tabs stored
            else:
                self.session.increment("clicks")
                await self.session.save()  # nothing is stored without it
        except SessionNotFound:
            self.close(1008, "session ended")  # logged out elsewhere
            return
        self.write_message(str(self.session.get("clicks", 0)))


class Logout(SessionMixin, tornado.web.RequestHandler):
    async def post(self) -> None:
        # Closes this process's sockets of the session, with code 1008.
        await self.sessions.destroy(self)
        self.finish("bye")


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/", Page), (r"/counter", Counter), (r"/logout", Logout)], sessions=sessions
    )


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
