"""Users and devices: log in, list where you are logged in, log out one
device, and log out everywhere else on a password change."""

from __future__ import annotations

import asyncio

import tornado.web
from tornado.escape import xhtml_escape

from tornsess import SessionMixin, Sessions

# record_client: keep the IP and browser of each login, for the device list.
sessions = Sessions(cookie="app_session", idle_timeout=30 * 60, record_client=True)


class Login(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        # Where @authenticated sends a visitor: /login?next=/account
        self.finish(
            '<form method="post">'
            f'<input type="hidden" name="next" value="{xhtml_escape(self._next())}">'
            '<input name="user"> <input name="password" type="password"> '
            '<label><input type="checkbox" name="remember"> remember me</label> '
            "<button>Log in</button></form>"
        )

    async def post(self) -> None:
        user = self.get_body_argument("user")
        # ... check the password here ...
        remember = self.get_body_argument("remember", "") == "on"
        # Binds the session to the user and gives it a new id (fixation).
        await self.session.login(user, remember=30 * 24 * 3600 if remember else None)
        self.redirect(self._next())

    def _next(self) -> str:
        """Where to go after the login: a path on this site only."""
        target = self.get_argument("next", "/account")
        return target if target.startswith("/") and not target.startswith("//") else "/account"


class Account(SessionMixin, tornado.web.RequestHandler):
    @tornado.web.authenticated  # current_user is session.user_id
    def get(self) -> None:
        self.finish(f"account of {self.current_user}")


class Devices(SessionMixin, tornado.web.RequestHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        devices = await self.sessions.user_sessions(self.current_user, handler=self)
        self.finish(
            {
                "devices": [
                    {
                        "handle": d.handle,  # for revoke links; not a secret
                        "this device": d.current,
                        "since": d.created.isoformat(),
                        "last seen": d.last_seen.isoformat(),
                        "ip": d.ip,
                        "browser": d.user_agent,
                    }
                    for d in devices
                ]
            }
        )


class Revoke(SessionMixin, tornado.web.RequestHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        handle = self.get_body_argument("handle")
        mine = {d.handle for d in await self.sessions.user_sessions(self.current_user)}
        if handle not in mine:  # a user may revoke only their own devices
            raise tornado.web.HTTPError(404)
        await self.sessions.destroy_by_handle(handle)
        self.finish("logged out that device")


class ChangePassword(SessionMixin, tornado.web.RequestHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        # ... change the password here, then log out every other device:
        count = await self.sessions.destroy_user(self.current_user, keep=self.session.handle)
        self.finish(f"password changed; {count} other device(s) logged out")


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/login", Login),
            (r"/account", Account),
            (r"/devices", Devices),
            (r"/revoke", Revoke),
            (r"/password", ChangePassword),
        ],
        sessions=sessions,
        login_url="/login",
    )


async def main() -> None:
    make_app().listen(8888)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
