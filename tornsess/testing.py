"""Helpers for the tests of applications that use tornsess.

They work on the store of the application's session manager, so a test can
start from a logged-in session without driving a login form, and check what
a request stored, with pytest-tornado's ``http_client``/``base_url`` or with
``tornado.testing.AsyncHTTPTestCase``::

    sent = await make_session(app, {"cart": ["apple"]}, user_id="ann")
    response = await http_client.fetch(base_url + "/cart", headers={"Cookie": sent})
    assert (await read_session(app, response.headers["Set-Cookie"])) == {...}
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from tornado.web import Application

from . import codec
from .mixin import sessions_for

__all__ = ["make_session", "read_session"]


async def make_session(
    app: Application, values: Mapping[str, Any] | None = None, *, user_id: str | None = None
) -> str:
    """Store a session in *app*'s store, holding *values*, logged in as
    *user_id* when it is given; return what a client sends for it: a
    ``Cookie`` header value (``name=value``), or the token itself when the
    application carries it in a header (``Config(header=...)``).

    :raises TypeError: a key or a value a session cannot hold.
    :raises tornsess.StoreUnavailable: the store failed.
    """
    manager = sessions_for(app)
    token = await manager._path.store_new(values or {}, user_id)
    if manager.config.header is not None:
        return token
    return f"{manager.config.cookie}={token}"


async def read_session(app: Application, sent: str) -> dict[str, Any] | None:
    """The values stored for the session that *sent* names (a ``Cookie``
    header value, a ``Set-Cookie`` header value, or a token), or ``None``
    when it names no live session. Values that cannot be read are left out,
    as ``Session.get_all`` leaves them.

    :raises tornsess.StoreUnavailable: the store failed.
    """
    manager = sessions_for(app)
    name = manager.config.cookie
    token = sent.strip()
    if "=" in token:
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(token)
        except CookieError:
            return None
        morsel = cookies.get(name)
        if morsel is None:
            return None
        token = morsel.value
    record = await manager._path.read(token)
    if record is None:
        return None
    values: dict[str, Any] = {}
    for key, text in record.values.items():
        if key.startswith("\x00"):  # never a value (see Session's key rule)
            continue
        try:
            values[key] = codec.loads(text)
        except ValueError:
            continue
    return values
