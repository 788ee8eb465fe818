"""Choosing an encoder in the Application settings, with key rotation."""

from __future__ import annotations

import asyncio
import os

import tornado.web

from tornsess import SessionMixin, Sessions
from tornsess.encoders import SecretBoxEncoder, SignedEncoder


class Home(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish(f"visit {self.session.increment('visits')}")


def make_app() -> tornado.web.Application:
    """Signed cookies, keys derived from cookie_secret. Rotating: add a new
    version, point key_version at it, keep the old one until every cookie
    signed with it has expired (or been re-issued), then drop it.

    The secrets come from the environment, never from the source: make each
    with ``python -m tornsess keygen``, e.g.
    ``export SESSION_KEY_1="$(python -m tornsess keygen)"``."""
    return tornado.web.Application(
        [(r"/", Home)],
        cookie_secret={
            1: os.environ["SESSION_KEY_1"],  # the old key, until its cookies are gone
            2: os.environ["SESSION_KEY_2"],  # the new key: signs from now on
        },
        key_version=2,
        sessions={"encoding": "signed", "expires": 12 * 3600},
    )


def make_secretbox_app(keys: list[str]) -> tornado.web.Application:
    """Encrypted cookies with explicit keys (``python -m tornsess keygen``),
    oldest first: the last one encrypts."""
    return tornado.web.Application(
        [(r"/", Home)], sessions=Sessions(encoding=SecretBoxEncoder(keys))
    )


def make_verify_every_request_app(keys: list[str]) -> tornado.web.Application:
    """Signed cookies checked with the HMAC on every request: the encoder
    remembers no verified values."""
    encoder = SignedEncoder(keys)
    encoder.verified_cache = 0
    return tornado.web.Application([(r"/", Home)], sessions=Sessions(encoding=encoder))


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
