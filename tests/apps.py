"""The Tornado application the HTTP tests talk to."""

from __future__ import annotations

import json
from typing import Any

from tornado.web import Application, RequestHandler

import tornsess
from tornsess import SessionMixin, Sessions


class Base(SessionMixin, RequestHandler):
    def reply(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, default=repr))

    def arg(self, name: str, default: str | None = None) -> str:
        value = self.get_argument(name, default)
        assert value is not None
        return value


class Get(Base):
    def get(self) -> None:
        s = self.session
        self.reply({"id": s.id, "is_new": s.is_new, "values": s.get_all(), "len": len(s)})


class Set(Base):
    def post(self) -> None:
        for key, value in json.loads(self.request.body).items():
            self.session.set(key, value)
        self.reply({"id": self.session.id, "is_new": self.session.is_new})

    def get(self) -> None:
        self.session.set(self.arg("key"), self.arg("value"))
        self.reply({"id": self.session.id, "is_new": self.session.is_new})


class Incr(Base):
    def get(self) -> None:
        n = int(self.arg("n", "1"))
        value = self.session.increment(self.arg("key", "n"), n)
        self.reply({"id": self.session.id, "value": value})


class Delete(Base):
    def get(self) -> None:
        self.reply({"deleted": self.session.delete(self.arg("key"))})


class Clear(Base):
    def get(self) -> None:
        self.session.clear()
        self.reply(self.session.get_all())


class Destroy(Base):
    async def get(self) -> None:
        was_new = self.session.is_new
        await self.sessions.destroy(self)
        self.reply({"was_new": was_new, "current": self.sessions.get(self) is not None})


class DestroyThenStart(Base):
    async def get(self) -> None:
        old = self.session.id
        await self.sessions.destroy(self)
        fresh = await self.sessions.start(self)
        fresh.set("again", True)
        self.reply({"old": old, "new": fresh.id, "is_new": fresh.is_new})


class Regenerate(Base):
    async def get(self) -> None:
        old = self.session.id
        await self.session.regenerate()
        self.reply({"old": old, "new": self.session.id, "values": self.session.get_all()})


class Visits(Base):
    def get(self) -> None:
        self.finish(f"{self.session.increment('visits')} visit(s)")


class Flash(Base):
    def post(self, op: str) -> None:
        for key, value in json.loads(self.request.body).items():
            self.session.set_flash(key, value)
        self.reply({"ok": True})

    def get(self, op: str) -> None:
        s = self.session
        key = self.get_argument("key", "")
        result: Any
        if op == "all":
            result = s.get_flashes()
        elif op == "get":
            result = [s.get_flash(key), s.get_flash(key), s.has_flash()]
        elif op == "peek":
            result = s.peek_flash(key)
        elif op == "string":
            result = s.get_flash_string(key)
        elif op == "has":
            result = s.has_flash()
        elif op == "delete":
            s.delete_flash(key)
            result = s.get_flashes()
        elif op == "clear":
            s.clear_flashes()
            result = s.get_flashes()
        else:
            raise ValueError(op)
        self.reply(result)


class Update(Base):
    async def get(self) -> None:
        try:
            await self.sessions.update_expiration(self, float(self.arg("expires")))
        except tornsess.SessionNotFound:
            self.set_status(404)
            self.reply({"error": "not found"})
            return
        self.reply({"id": self.session.id})


class UpdateFirst(RequestHandler):
    """update_expiration before any start."""

    async def get(self) -> None:
        manager = tornsess.sessions_for(self.application)
        try:
            await manager.update_expiration(self, float(self.get_argument("expires")))
        except tornsess.SessionNotFound:
            self.set_status(404)
            self.finish("not found")
            return
        session = manager.get(self)
        assert session is not None
        self.finish(session.id)


class Shift(Base):
    async def get(self) -> None:
        await self.sessions.shift_expiration(self)
        self.reply({"id": self.session.id})


class Run(Base):
    """Runs the ``run`` callable of the Application settings with the handler
    (its assertions execute server-side, inside a real request)."""

    async def get(self) -> None:
        result = self.settings["run"](self)
        if hasattr(result, "__await__"):
            result = await result
        if not self._finished:
            self.reply(result)


class Info(Base):
    """The session's id, data and lifetime as this process sees them."""

    def get(self) -> None:
        s = self.session
        expires = s.expires_at
        self.reply(
            {
                "id": s.id,
                "is_new": s.is_new,
                "user": s.user_id,
                "values": s.get_all(),
                "expires_at": None if expires is None else expires.timestamp(),
            }
        )


class DestroyAll(Base):
    async def get(self) -> None:
        await self.sessions.destroy_all()
        self.reply({"destroyed": "all"})


class DestroyById(Base):
    async def get(self) -> None:
        self.reply({"existed": await self.sessions.destroy_by_id(self.arg("id"))})


class Login(Base):
    async def get(self) -> None:
        remember = self.get_argument("remember", None)
        await self.session.login(
            self.arg("user", "alice"),
            remember=None if remember is None else float(remember),
            keep_values=self.get_argument("keep", None) == "1",
        )
        self.reply(
            {
                "id": self.session.id,
                "handle": self.session.handle,
                "user": self.current_user,
                "token": self.session.token,
            }
        )


class Devices(Base):
    async def get(self) -> None:
        user = self.get_argument("user", None) or self.current_user
        infos = await self.sessions.user_sessions(user, handler=self)
        self.reply(
            [
                {
                    "handle": i.handle,
                    "current": i.current,
                    "ip": i.ip,
                    "user_agent": i.user_agent,
                    "created": i.created.timestamp(),
                    "last_seen": i.last_seen.timestamp(),
                    "last_login": i.last_login.timestamp(),
                    "expires": None if i.expires is None else i.expires.timestamp(),
                }
                for i in infos
            ]
        )


class Revoke(Base):
    async def get(self) -> None:
        self.reply({"existed": await self.sessions.destroy_by_handle(self.arg("handle"))})


class RevokeOthers(Base):
    async def get(self) -> None:
        keep = self.session.handle if self.get_argument("keep", "1") == "1" else None
        count = await self.sessions.destroy_user(self.current_user, keep=keep)
        self.reply({"destroyed": count})


class NoSession(RequestHandler):
    def get(self) -> None:
        self.finish("no session here")


class PlainStart(RequestHandler):
    """No mixin: a plain ``await sessions.start(self)``."""

    async def get(self) -> None:
        manager = tornsess.sessions_for(self.application)
        session = await manager.start(self)
        again = await manager.start(self)
        session.set("plain", session.get_int_default("plain", 0) + 1)
        self.finish(json.dumps({"same": session is again, "plain": session.get("plain")}))


def make_app(sessions: Sessions | None = None, **settings: Any) -> Application:
    manager = sessions or Sessions()
    decorated = _decorated(manager)
    return Application(
        [
            (r"/get", Get),
            (r"/set", Set),
            (r"/incr", Incr),
            (r"/delete", Delete),
            (r"/clear", Clear),
            (r"/destroy", Destroy),
            (r"/destroy-start", DestroyThenStart),
            (r"/regenerate", Regenerate),
            (r"/visits", Visits),
            (r"/flash/(\w+)", Flash),
            (r"/update", Update),
            (r"/update-first", UpdateFirst),
            (r"/shift", Shift),
            (r"/nosession", NoSession),
            (r"/info", Info),
            (r"/login", Login),
            (r"/devices", Devices),
            (r"/revoke", Revoke),
            (r"/revoke-others", RevokeOthers),
            (r"/destroy-all", DestroyAll),
            (r"/destroy-by-id", DestroyById),
            (r"/plain", PlainStart),
            (r"/decorated", decorated),
            (r"/run", Run),
        ],
        sessions=manager,
        **settings,
    )


def _decorated(manager: Sessions) -> type[RequestHandler]:
    class Decorated(RequestHandler):
        @manager.handler()
        def get(self) -> None:
            session = manager.get(self)
            assert session is not None
            session.increment("decorated")
            self.finish(str(session.get("decorated")))

    return Decorated
