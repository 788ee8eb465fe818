"""Sessions: the session manager (Iris ``sessions.Sessions``): its
configuration and store, ``on_destroy``, destroying sessions, their
expiration, and users' sessions. The path of one request is in
:mod:`tornsess.request`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tornado.web import RequestHandler

from .config import Config, Duration, _seconds
from .cookie import CookieOption
from .database import Binding, Database, Record, UserIndex
from .errors import ConfigError, NotSupported, SessionNotFound
from .ids import handle_tag, is_valid_id
from .request import DestroyCallback, RequestPath, expired
from .session import Session

__all__ = ["Sessions", "SessionInfo", "DestroyCallback"]

log: logging.Logger = logging.getLogger("tornsess")

F = TypeVar("F", bound=Callable[..., Any])

_REVOKE_PASSES = 4
"""How often ``destroy_user`` lists a user's sessions at most: until a list
finds none left to destroy."""


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """One of a user's sessions, as :meth:`Sessions.user_sessions` lists it."""

    handle: str
    """Names the session in lists and revoke links (not a secret, not a cookie)."""
    created: _dt.datetime
    """When the session was created (aware, UTC)."""
    last_seen: _dt.datetime
    """Its last recorded activity (aware, UTC): updated by writes and by the
    idle refresh, never by an extra write per request."""
    expires: _dt.datetime | None
    """When it ends if unused, or ``None``."""
    last_login: _dt.datetime
    """When it was logged in (aware, UTC)."""
    ip: str | None
    """The client's ``remote_ip`` at login (honours ``xheaders``), with
    ``Config(record_client=True)``; else ``None``."""
    user_agent: str | None
    """The client's User-Agent at login, up to 256 characters, with
    ``Config(record_client=True)``; else ``None``."""
    current: bool
    """Whether it is the session of the handler given to ``user_sessions``."""


def _utc(timestamp: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc)


def _session_info(
    handle: str,
    record: Record,
    user_id: str,
    current: str | None,
    now: float,
    idle: float | None,
) -> SessionInfo | None:
    """The SessionInfo of an index entry, or ``None`` if it is not a live
    session of *user_id* (another user's under a shared tag, or expired)."""
    bound = Binding.loads(record.binding)
    if bound is None or (bound.user_id, bound.handle) != (user_id, handle):
        return None
    if expired(record, now, idle) or (record.expires_at is not None and record.expires_at <= now):
        return None
    return SessionInfo(
        handle=handle,
        created=_utc(record.created),
        last_seen=_utc(record.accessed),
        expires=None if record.expires_at is None else _utc(record.expires_at),
        last_login=_utc(bound.login),
        ip=bound.ip,
        user_agent=bound.user_agent,
        current=current == handle,
    )


class Sessions:
    """The session manager.

    ``Sessions(Config(...))`` or ``Sessions(cookie=..., ...)`` with the
    :class:`~tornsess.Config` fields as keywords. It starts with a
    :class:`~tornsess.MemoryDatabase`; :meth:`use_database` plugs in another
    store. One manager serves any number of handlers and Applications.
    """

    def __init__(self, config: Config | None = None, /, **fields: Any) -> None:
        if config is not None and fields:
            raise ConfigError("config", "give a Config or keyword fields, not both")
        if config is None:
            config = Config(**fields)  # a misspelt field is a ConfigError
        elif not isinstance(config, Config):
            raise ConfigError("config", f"expected a Config, got {config!r}")
        self._config = config
        self._path = RequestPath(config)

    def __repr__(self) -> str:
        return f"Sessions(cookie={self._config.cookie!r}, database={self._path.db!r})"

    @property
    def config(self) -> Config:
        """The :class:`~tornsess.Config` in force."""
        return self._config

    @property
    def database(self) -> Database:
        """The store in use."""
        return self._path.db

    def use_database(self, db: Database) -> None:
        """Store sessions in *db* from now on (call it before serving).

        Sessions held by the previous store are not moved.

        :raises tornsess.ConfigError: *db* does not implement :class:`~tornsess.database.Database`.
        """
        if not isinstance(db, Database):
            raise ConfigError("database", f"{db!r} does not implement tornsess.database.Database")
        self._path.db.set_expire_listener(None)
        self._path.attach(db)

    # -- on_destroy -----------------------------------------------------------

    def on_destroy(self, callback: DestroyCallback) -> DestroyCallback:
        """Call ``callback(session_id)`` once for each session destroyed:
        by :meth:`destroy`, :meth:`destroy_by_id`, :meth:`destroy_all`,
        ``Session.destroy`` or expiry the store detects.

        Coroutine functions run as tasks, plain functions in a worker
        thread, so a slow callback never holds up a request; a failing one is
        logged. Usable as a decorator.

        :raises TypeError: *callback* is not callable.
        """
        if not callable(callback):
            raise TypeError("on_destroy needs a callable")
        self._path.callbacks.append(callback)
        return callback

    async def wait_for_callbacks(self) -> None:
        """Wait until every ``on_destroy`` callback started so far has ended
        (for graceful shutdown and tests)."""
        while self._path.running:
            await asyncio.wait(list(self._path.running))

    # -- the request's session ------------------------------------------------

    async def start(self, handler: RequestHandler, *options: CookieOption) -> Session:
        """The request's session: the one its cookie names, or a fresh one.

        Repeated calls in one request return the same :class:`Session`; after
        a destroy, a new one (*options* given to a repeated call apply from
        then on). A cookie that does not decode, is oversized,
        ambiguous, or names a session the store does not hold gives a fresh
        session with a new id; the client's id is never adopted. *options*
        adjust the cookie's attributes for this session.

        :raises tornsess.StoreUnavailable: the store failed (an ``HTTPError``
            503: left to propagate, the client gets 503 with ``Retry-After``).
        """
        return (await self._path.start(handler, options))[0]

    def _close_socket(self, handler: RequestHandler) -> None:
        """A WebSocket of this manager's closed (called by SessionMixin)."""
        self._path.close_socket(handler)

    def get(self, handler: RequestHandler) -> Session | None:
        """The session this request started with this manager, or ``None``
        if none was started or it was destroyed (Iris ``sessions.Get``)."""
        found = self._path.get(handler)
        return None if found is None else found[0]

    def handler(self, *options: CookieOption) -> Callable[[F], F]:
        """Decorator for a handler method: starts the session before the
        method runs (Iris ``Handler``). Inside, ``sessions.get(self)`` or
        ``await sessions.start(self)`` returns it."""

        def decorator(method: F) -> F:
            @functools.wraps(method)
            async def wrapper(handler: RequestHandler, *args: Any, **kwargs: Any) -> Any:
                await self.start(handler, *options)
                result = method(handler, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result

            return wrapper  # type: ignore[return-value]

        return decorator

    # -- destroy ------------------------------------------------------------

    async def destroy(self, handler: RequestHandler) -> None:
        """Destroy the request's session: remove it from the store, run the
        ``on_destroy`` callbacks and send a cookie deletion with the same
        Path and Domain. A later :meth:`start` in this request gives a new
        session.

        :raises tornsess.StoreUnavailable: the store failed (503).
        """
        path = self._path
        state = (await path.start(handler, ()))[1]
        had_cookie = state.came_with_cookie()
        await path.destroy(state)
        if had_cookie or path.sent_tokens(handler):
            path.clear_cookie(handler, state)

    async def destroy_by_id(self, session_id: str) -> bool:
        """Destroy the session with this id, wherever its client is; return
        whether it existed. Its cookie is not touched (it simply stops
        working).

        :raises tornsess.StoreUnavailable: the store failed (logged; a 503
            with ``Retry-After`` if it propagates out of a handler that
            started a session).
        """
        if not is_valid_id(session_id):
            return False
        existed, session_id = await self._path.destroy_id(session_id)
        if existed:
            self._path.fire_destroy(session_id)
        self._path.close_sockets(session_id, None)
        return existed

    async def destroy_all(self) -> None:
        """Destroy every session in the store.

        :raises tornsess.StoreUnavailable: the store failed (as for
            :meth:`destroy_by_id`).
        """
        for session_id in await self._path.store_call(self._path.db.destroy_all()):
            self._path.fire_destroy(session_id)
        self._path.close_sockets(None, None, every=True)

    # -- expiration ---------------------------------------------------------

    async def update_expiration(
        self, handler: RequestHandler, expires: Duration, *options: CookieOption
    ) -> None:
        """Give the request's session a new lifetime from now, keep its id,
        and rewrite the cookie's Max-Age (``expires`` as in
        :attr:`Config.expires`: 0 none, negative a browser-session cookie).

        A session that is not stored yet may be given a lifetime only if it
        received data in this request (it is then stored when the request
        commits); otherwise nothing is stored and no cookie is sent.

        :raises tornsess.SessionNotFound: the request's session is neither
            stored nor holding data from this request (no cookie, an unknown
            or expired id, or an empty new session).
        :raises tornsess.StoreUnavailable: the store failed.
        """
        seconds = _seconds("expires", expires)
        assert seconds is not None
        path = self._path
        state = (await path.start(handler, options))[1]
        if not (state.stored or state.holds_data() or self._config.save_uninitialized):
            raise SessionNotFound(
                "the request has no stored session, and its new one holds no data"
            )
        state.set_lifetime(seconds, time.time())

    async def shift_expiration(self, handler: RequestHandler, *options: CookieOption) -> None:
        """:meth:`update_expiration` with the configured ``expires``."""
        await self.update_expiration(handler, self._path.lifetime, *options)

    # -- users and devices --------------------------------------------------

    def _index(self) -> UserIndex:
        """The store, if it keeps an index of users' sessions."""
        index = self._path.user_index
        if index is None:
            raise NotSupported(f"{self._path.db!r} keeps no index of users' sessions")
        return index

    async def user_sessions(
        self, user_id: str, *, handler: RequestHandler | None = None
    ) -> list[SessionInfo]:
        """The live sessions logged in as *user_id*, newest login first, in
        one store call per session of that user (never a scan of all
        sessions). With *handler*, the session of that request is marked
        ``current``.

        :raises tornsess.NotSupported: the store keeps no index of users.
        :raises tornsess.StoreUnavailable: the store failed.
        """
        index = self._index()
        entries = []
        for tag in self._path.user_tags(user_id):
            entries += await self._path.store_call(index.index_sessions(tag))
        current = None
        if handler is not None:
            session = self.get(handler)
            current = None if session is None else session.handle
        now = time.time()
        found = []
        for handle, record in entries:
            info = _session_info(handle, record, user_id, current, now, self._path.idle)
            if info is not None:
                found.append(info)
        found.sort(key=lambda info: info.last_login, reverse=True)
        return found

    async def destroy_user(self, user_id: str, *, keep: str | None = None) -> int:
        """Destroy every session logged in as *user_id* but the one whose
        handle is *keep* ("log out my other devices": pass
        ``session.handle``); return how many were destroyed. ``on_destroy``
        callbacks run for each, where the store knows session ids (memory,
        SQLite with ``keep_ids``; Redis holds only their hashes).

        :raises tornsess.NotSupported: the store keeps no index of users.
        :raises tornsess.StoreUnavailable: the store failed.
        """
        index = self._index()
        destroyed: list[str] = []
        # A session that a regenerate moved between the list and its revoke
        # is found by the next list: list again until one finds nothing.
        for _ in range(_REVOKE_PASSES):
            found = 0
            for tag in self._path.user_tags(user_id):
                for handle, record in await self._path.store_call(index.index_sessions(tag)):
                    bound = Binding.loads(record.binding)
                    if handle == keep or bound is None or bound.user_id != user_id:
                        continue
                    found += 1
                    existed, session_id = await self._path.store_call(
                        index.index_destroy(tag, handle)
                    )
                    if existed:
                        destroyed.append(handle)
                        if session_id is not None:
                            self._path.fire_destroy(session_id)
            if not found:
                break
        self._path.close_sockets(None, destroyed)
        return len(destroyed)

    async def destroy_by_handle(self, handle: str) -> bool:
        """Destroy the session with this handle (revoke one device); return
        whether it existed. Anything that is not a handle is simply not
        found.

        :raises tornsess.NotSupported: the store keeps no index of users.
        :raises tornsess.StoreUnavailable: the store failed.
        """
        index = self._index()
        tag = handle_tag(handle)
        if tag is None:
            return False
        existed, session_id = await self._path.store_call(index.index_destroy(tag, handle))
        if existed and session_id is not None:
            self._path.fire_destroy(session_id)
        self._path.close_sockets(None, (handle,))
        return bool(existed)
