"""Testing an application that uses tornsess: start from a logged-in
session without a login form, and read what a request stored."""

from __future__ import annotations

from typing import Any

import tornado.web
from tornado.testing import AsyncHTTPTestCase, gen_test

from tornsess import SessionMixin, Sessions
from tornsess.testing import make_session, read_session


class Cart(SessionMixin, tornado.web.RequestHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        items = self.session.get("cart", [])
        self.session.set("cart", [*items, self.get_body_argument("item")])
        self.finish({"user": self.current_user, "items": len(items) + 1})


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/cart", Cart)], sessions=Sessions(cookie="shop"), login_url="/login"
    )


# With pytest-tornado: an ``app`` fixture, then its http_client and base_url.
async def check_cart_with_pytest_tornado(
    app: tornado.web.Application, http_client: Any, base_url: str
) -> None:
    sent = await make_session(app, {"cart": ["apple"]}, user_id="ann")
    response = await http_client.fetch(
        base_url + "/cart", method="POST", body="item=pear", headers={"Cookie": sent}
    )
    assert response.code == 200
    assert await read_session(app, sent) == {"cart": ["apple", "pear"]}


# With the standard library's unittest and Tornado's AsyncHTTPTestCase.
class CartTest(AsyncHTTPTestCase):
    def get_app(self) -> tornado.web.Application:
        self.app = make_app()
        return self.app

    @gen_test
    async def test_a_logged_in_cart(self) -> None:
        app = self.app
        sent = await make_session(app, {"cart": []}, user_id="ann")
        response = await self.http_client.fetch(
            self.get_url("/cart"), method="POST", body="item=fig", headers={"Cookie": sent}
        )
        self.assertEqual(response.code, 200)
        self.assertEqual(await read_session(app, sent), {"cart": ["fig"]})

    @gen_test
    async def test_without_a_session_the_cart_is_forbidden(self) -> None:
        response = await self.http_client.fetch(
            self.get_url("/cart"),
            method="POST",
            body="item=fig",
            follow_redirects=False,
            raise_error=False,
        )
        self.assertEqual(response.code, 403)  # @authenticated refuses a POST
