"""Sessions: the session manager (Iris ``sessions.Sessions``)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar, cast

from tornado.web import RequestHandler

from . import codec, lifecycle
from .config import Config, Duration, _seconds
from .cookie import (
    MAX_COOKIE_VALUE,
    CookieAttributes,
    CookieOption,
    registrable_domain,
    request_cookie_values,
)
from .database import (
    CLIENT_IP,
    CLIENT_UA,
    HANDLE,
    LOGIN,
    USER,
    Database,
    MemoryDatabase,
    Record,
    UserIndex,
    binding,
)
from .encoding import Encoding, RotatingEncoding
from .errors import (
    ConfigError,
    DecodeError,
    NotSupported,
    SessionInterrupted,
    SessionNotFound,
    SessionTooLarge,
    StoreUnavailable,
)
from .ids import _ID_RE, handle_tag, is_valid_id, new_handle, new_id, user_tag
from .lifecycle import FailureLog
from .session import Session

__all__ = ["Sessions", "SessionInfo", "DestroyCallback"]

log = logging.getLogger("tornsess")

DestroyCallback = Callable[[str], Any]
"""``callback(session_id)``, a plain function or a coroutine function."""

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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


def _meta_value(record: Record, key: str) -> Any:
    text = record.values.get(key)
    if text is None:
        return None
    try:
        return codec.loads(text)
    except ValueError:
        return None


def _expired(record: Record, now: float, idle: float | None) -> bool:
    """Whether a loaded record is past its absolute or idle limit (checked
    again here: a store may keep an expired session until its sweep)."""
    return (record.deadline is not None and record.deadline <= now) or (
        idle is not None and record.accessed + idle <= now
    )


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
    if binding(record.values) != (user_id, handle) or _expired(record, now, idle):
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    login = _meta_value(record, LOGIN)
    ip = _meta_value(record, CLIENT_IP)
    agent = _meta_value(record, CLIENT_UA)
    return SessionInfo(
        handle=handle,
        created=_utc(record.created),
        last_seen=_utc(record.accessed),
        expires=None if record.expires_at is None else _utc(record.expires_at),
        last_login=_utc(login if isinstance(login, (int, float)) else record.created),
        ip=ip if isinstance(ip, str) else None,
        user_agent=agent if isinstance(agent, str) else None,
        current=current == handle,
    )


_ID_ATTEMPTS = 8
_id_fullmatch = _ID_RE.fullmatch
_SLOW_CALLBACK = 5.0


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
            config = Config(**fields)
        elif not isinstance(config, Config):
            raise ConfigError("config", f"expected a Config, got {config!r}")
        self._config = config
        self._encoding = config.effective_encoding
        self._decode_value: Callable[[str, str], tuple[str, bool]] = (
            self._encoding.decode_stale
            if isinstance(self._encoding, RotatingEncoding)
            else functools.partial(_decode_plain, self._encoding)
        )
        self._idle = config.idle_timeout_seconds
        self._lifetime = config.expires_seconds
        self._save_new = config.save_uninitialized
        self._callbacks: list[DestroyCallback] = []
        self._running: set[asyncio.Future[Any]] = set()
        self._attach(MemoryDatabase())

    def __repr__(self) -> str:
        return f"Sessions(cookie={self._config.cookie!r}, database={self._db!r})"

    @property
    def config(self) -> Config:
        """The :class:`~tornsess.Config` in force."""
        return self._config

    @property
    def database(self) -> Database:
        """The store in use."""
        return self._db

    def use_database(self, db: Database) -> None:
        """Store sessions in *db* from now on (call it before serving).

        Sessions held by the previous store are not moved.
        """
        if not isinstance(db, Database):
            raise ConfigError("database", f"{db!r} does not implement tornsess.Database")
        self._db.set_expire_listener(None)
        self._attach(db)

    def _attach(self, db: Database) -> None:
        """Use *db*, and what the request path needs to know of it."""
        self._db: Database = db
        db.set_expire_listener(self._fire_destroy)
        self._failures = FailureLog(db)
        self._user_index: UserIndex | None = db if isinstance(db, UserIndex) else None
        self._load_now = _load_now_of(db)
        self._at_once = bool(getattr(db, "answers_at_once", False))

    # -- on_destroy -----------------------------------------------------------

    def on_destroy(self, callback: DestroyCallback) -> DestroyCallback:
        """Call ``callback(session_id)`` once for each session destroyed:
        by :meth:`destroy`, :meth:`destroy_by_id`, :meth:`destroy_all`,
        ``Session.destroy`` or expiry the store detects.

        Coroutine functions run as tasks, plain functions in a worker
        thread, so a slow callback never holds up a request; a failing one is
        logged. Usable as a decorator.
        """
        if not callable(callback):
            raise TypeError("on_destroy needs a callable")
        self._callbacks.append(callback)
        return callback

    def _fire_destroy(self, session_id: str) -> None:
        for callback in self._callbacks:
            self._run_callback(callback, session_id)

    def _run_callback(self, callback: DestroyCallback, session_id: str) -> None:
        name = getattr(callback, "__qualname__", repr(callback))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                result = callback(session_id)
                if inspect.isawaitable(result):
                    asyncio.run(_awaited(result))
            except Exception:
                log.exception("tornsess: on_destroy callback %s failed", name)
            return
        future: asyncio.Future[Any]
        if inspect.iscoroutinefunction(callback):
            future = asyncio.ensure_future(callback(session_id))
        else:
            future = asyncio.ensure_future(
                loop.run_in_executor(None, _call_sync, callback, session_id)
            )
        self._running.add(future)
        slow = loop.call_later(_SLOW_CALLBACK, _warn_slow, future, name)

        def done(fut: asyncio.Future[Any]) -> None:
            self._running.discard(fut)
            slow.cancel()
            if fut.cancelled():
                return
            exc = fut.exception()
            if exc is not None:
                log.error("tornsess: on_destroy callback %s failed", name, exc_info=exc)

        future.add_done_callback(done)

    async def wait_for_callbacks(self) -> None:
        """Wait until every ``on_destroy`` callback started so far has ended
        (for graceful shutdown and tests)."""
        while self._running:
            await asyncio.wait(list(self._running))

    # -- request path -------------------------------------------------------

    def get(self, handler: RequestHandler) -> Session | None:
        """The session this request started with this manager, or ``None``
        if none was started or it was destroyed (Iris ``sessions.Get``)."""
        state = lifecycle.state_of(handler)
        if state is None:
            return None
        session = self._session_in(state)
        if session is None or not session._live():
            return None
        return session

    def _session_in(self, state: lifecycle.RequestState) -> Session | None:
        """The session this manager started in the request (the lifecycle
        holds it as a :class:`~tornsess.lifecycle.Tracked`)."""
        return cast("Session | None", state.sessions.get(self))

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
        state = lifecycle.state_of(handler)
        if state is None:
            state = lifecycle.install(handler)
        else:
            current = self._session_in(state)
            if current is not None and current._live():
                current._add_options(options)
                return current
        try:
            session = await self._open(handler, options)
        except StoreUnavailable as exc:
            self._store_failed(handler, exc)
        state.sessions[self] = session
        return session

    def _start_now(self, handler: RequestHandler) -> Session | None:
        """:meth:`start` without waiting, for :class:`~tornsess.SessionMixin`:
        the request's first session, when the store answers from memory
        (``load_now``) and the cookie needs no store call but the load. In
        any other case ``None``, and the caller takes :meth:`start`."""
        load = self._load_now
        if load is None or getattr(handler, "_tornsess", None) is not None:
            return None
        name = self._config.cookie
        values = request_cookie_values(handler.request, name)
        now = time.time()
        session = None
        if len(values) == 1:
            found = self._cookie_id(name, values[0])
            if found is not None:
                record = load(found[0])
                if record is not None:
                    if _expired(record, now, self._idle):
                        return None  # start() destroys it
                    session = Session(self, handler, found[0], record, (), now)
                    if found[1]:
                        session._reissue_cookie()
        elif values:
            return None  # several cookies of this name: start() picks
        if session is None:
            if self._config.session_id_generator is not None:
                return None
            session = Session(self, handler, None, None, (), now)
        lifecycle.install(handler).sessions[self] = session
        return session

    def _cookie_id(self, name: str, value: str) -> tuple[str, bool] | None:
        """The session id one cookie value carries and whether to re-issue
        it (made with an older key), or ``None`` for a value to ignore:
        empty, oversized, undecodable, or not a valid id."""
        if not value or len(value) > MAX_COOKIE_VALUE:
            return None
        try:
            found = self._decode_value(name, value)
        except DecodeError:
            return None
        if type(found[0]) is not str or not _id_fullmatch(found[0]):  # is_valid_id, inlined
            return None
        return found

    async def _open(self, handler: RequestHandler, options: tuple[CookieOption, ...]) -> Session:
        name = self._config.cookie
        now = time.time()
        found: list[tuple[str, Record, bool]] = []
        for value in request_cookie_values(handler.request, name):
            decoded = self._cookie_id(name, value)
            if decoded is None:
                continue
            sid, stale = decoded
            if found and any(sid == f[0] for f in found):
                continue
            record = await self._db.load(sid)
            self._answered()
            if record is None:
                continue
            if _expired(record, now, self._idle):
                if await self._db.destroy(sid):
                    self._fire_destroy(sid)
                continue
            found.append((sid, record, stale))
        if len(found) == 1:
            sid, record, stale = found[0]
            session = Session(self, handler, sid, record, options, now)
            if stale:
                session._reissue_cookie()
            return session
        if found:
            log.info(
                "tornsess: request carried %d live sessions in cookie %r; starting a fresh one",
                len(found),
                name,
            )
        # The default id is drawn lazily (most anonymous sessions never need
        # one); a custom generator's id is checked against the store now.
        sid_new = None if self._config.session_id_generator is None else await self._new_id(handler)
        return Session(self, handler, sid_new, None, options, now)

    async def _new_id(self, handler: RequestHandler) -> str:
        generator = self._config.session_id_generator
        if generator is None:
            return new_id()
        for _ in range(_ID_ATTEMPTS):
            sid = generator(handler)
            if not is_valid_id(sid):
                raise ConfigError(
                    "session_id_generator",
                    f"returned {sid!r}; ids must be 1 to 128 characters of [A-Za-z0-9._-]",
                )
            if not await self._db.exists(sid):
                return sid
        raise ConfigError(
            "session_id_generator",
            f"returned ids already in use {_ID_ATTEMPTS} times in a row",
        )

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
        session."""
        session = self.get(handler)
        if session is None:
            session = await self.start(handler)
        had_cookie = session._came_with_cookie()
        await self._guard(session, self._destroy_session(session))
        if had_cookie or request_cookie_values(handler.request, self._config.cookie):
            attrs = self._attributes(handler, session, time.time())
            handler.clear_cookie(
                self._config.cookie,
                path=attrs.path,
                domain=attrs.domain,
                secure=attrs.secure,
                httponly=attrs.http_only,
                samesite=attrs.same_site,
            )
            handler.set_header("Cache-Control", "no-store")
            if self._config.allow_reclaim:
                handler.request.cookies.pop(self._config.cookie, None)

    async def _destroy_session(self, session: Session) -> None:
        if not session._live():
            return
        if session._stored():
            existed = await self._db.destroy(session.id)
            self._answered()
            entry = self._index_entry(session)
            if entry is not None:
                index, tag, handle = entry
                await index.index_remove(tag, handle)
            if existed:
                self._fire_destroy(session.id)
        session._mark_destroyed()

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
        existed = await self._store_call(self._db.destroy(session_id))
        if existed:
            self._fire_destroy(session_id)
        return existed

    async def destroy_all(self) -> None:
        """Destroy every session in the store.

        :raises tornsess.StoreUnavailable: the store failed (as for
            :meth:`destroy_by_id`).
        """
        for session_id in await self._store_call(self._db.destroy_all()):
            self._fire_destroy(session_id)

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
        session = self.get(handler)
        if session is None:
            session = await self.start(handler, *options)
        if not (session._stored() or session._holds_data() or self._save_new):
            raise SessionNotFound(
                "the request has no stored session, and its new one holds no data"
            )
        session._add_options(options)
        session._set_lifetime(seconds, time.time())

    async def shift_expiration(self, handler: RequestHandler, *options: CookieOption) -> None:
        """:meth:`update_expiration` with the configured ``expires``."""
        await self.update_expiration(handler, self._lifetime, *options)

    # -- commit -------------------------------------------------------------

    def _touch_due(self, session: Session, now: float | None = None) -> bool:
        idle = self._idle
        if idle is None:
            return False
        return session._idle_since(now or time.time()) >= idle / 10

    def _expires_at(self, deadline: float | None, accessed: float) -> float | None:
        if self._idle is None:
            return deadline
        idle_end = accessed + self._idle
        return idle_end if deadline is None else min(deadline, idle_end)

    async def _commit(self, session: Session) -> None:
        """Store the session's changes (one store call) and send its cookie
        if it must be sent."""
        if not session._live():
            return
        now = time.time()
        if not session._stored():
            if not session._pending():
                return
            sid = session.id
            record = session._first_record(now, self._expires_at(session._deadline_at(), now))
            while not await self._db.create(sid, record):
                sid = await self._new_id(session.handler)
            self._answered()
            session._mark_stored(sid)
        else:
            ops, times = session._take_changes()
            deadline = session._deadline_at()
            try:
                if ops or times:
                    expires_at = self._expires_at(deadline, now)
                    await self._db.commit(session.id, ops, now, deadline, expires_at)
                    self._answered()
                elif self._touch_due(session, now):
                    expires_at = self._expires_at(deadline, now)
                    touched = await self._db.touch(session.id, now, expires_at)
                    self._answered()
                    if not touched:
                        raise SessionInterrupted("the session was destroyed or expired")
                    entry = self._index_entry(session)
                    if entry is not None:  # the index lives as long as its sessions
                        await entry[0].index_touch(entry[1], expires_at)
            except SessionInterrupted:
                session._mark_destroyed()
                raise
            except BaseException:
                session._restore_changes(ops)
                raise
        if session._committed(now):
            self._write_cookie(session.handler, session, now)

    async def _regenerate(self, session: Session, *, reindex: bool = True) -> None:
        handler = session.handler
        new = await self._new_id(handler)
        if session._stored():
            try:
                while not await self._db.rename(session.id, new):
                    new = await self._new_id(handler)
                self._answered()
            except SessionInterrupted:
                session._mark_destroyed()
                raise
            entry = self._index_entry(session) if reindex else None
            if entry is not None:
                # The user's index entry follows the new id (a separate
                # step, safe to repeat: a login writes it again).
                index, tag, handle = entry
                await index.index_add(
                    tag, handle, new, self._expires_at(session._deadline_at(), time.time())
                )
        session._renamed(new)

    async def _login(self, session: Session, user_id: str, remember: Any) -> None:
        before = session._binding()
        await self._regenerate(session, reindex=False)
        now = time.time()
        handle = new_handle(user_id)
        meta: dict[str, Any] = {USER: user_id, HANDLE: handle, LOGIN: now}
        if self._config.record_client:
            request = session.handler.request
            meta[CLIENT_IP] = request.remote_ip
            meta[CLIENT_UA] = request.headers.get("User-Agent", "")[:256]
        session._bind(meta)
        if remember is not None:
            seconds = _seconds("remember", remember)
            assert seconds is not None
            session._set_lifetime(seconds, now)
        await self._commit(session)  # stored now, the cookie with this response
        index = self._user_index
        if index is None:
            return  # logged in; only the device lists need the index
        if before is not None:
            await index.index_remove(user_tag(before[0]), before[1])
        await index.index_add(
            user_tag(user_id), handle, session.id, self._expires_at(session._deadline_at(), now)
        )
        self._answered()

    def _index(self) -> UserIndex:
        """The store, if it keeps an index of users' sessions."""
        if self._user_index is None:
            raise NotSupported(f"{self._db!r} keeps no index of users' sessions")
        return self._user_index

    def _index_entry(self, session: Session) -> tuple[UserIndex, str, str] | None:
        """``(index, user tag, handle)`` of a logged-in session whose store
        keeps a user index; ``None`` otherwise."""
        bound = session._binding()
        if bound is None or self._user_index is None:
            return None
        return self._user_index, user_tag(bound[0]), bound[1]

    # -- users and devices --------------------------------------------------

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
        entries = await self._store_call(self._index().index_sessions(user_tag(user_id)))
        current = None
        if handler is not None:
            session = self.get(handler)
            current = None if session is None else session.handle
        now = time.time()
        found = []
        for handle, record in entries:
            info = _session_info(handle, record, user_id, current, now, self._idle)
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
        tag = user_tag(user_id)
        entries = await self._store_call(index.index_sessions(tag))
        destroyed = 0
        for handle, record in entries:
            bound = binding(record.values)
            if handle == keep or bound is None or bound[0] != user_id:
                continue
            existed, session_id = await self._store_call(index.index_destroy(tag, handle))
            if existed:
                destroyed += 1
                if session_id is not None:
                    self._fire_destroy(session_id)
        return destroyed

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
        existed, session_id = await self._store_call(index.index_destroy(tag, handle))
        if existed and session_id is not None:
            self._fire_destroy(session_id)
        return bool(existed)

    async def _store_call(self, call: Awaitable[T]) -> T:
        """A store call outside a request: a failure is logged (throttled)
        and raised, a success after failures is logged once."""
        try:
            result = await call
        except StoreUnavailable as exc:
            self._store_failed(None, exc)
        self._answered()
        return result

    # -- cookies ------------------------------------------------------------

    def _attributes(
        self, handler: RequestHandler, session: Session, now: float
    ) -> CookieAttributes:
        config = self._config
        attrs = CookieAttributes(
            path=config.path,
            domain=None
            if config.disable_subdomain_persistence
            else registrable_domain(handler.request.host_name),
            secure=(config.cookie_secure_tls and handler.request.protocol == "https")
            or config.same_site == "None"
            or config.cookie.startswith(("__Host-", "__Secure-")),
            http_only=config.http_only,
            same_site=config.same_site,
            max_age=session._cookie_max_age(now),
        )
        for option in session._cookie_options():
            option(attrs)
        return attrs

    def _write_cookie(self, handler: RequestHandler, session: Session, now: float) -> None:
        name = self._config.cookie
        value = self._encoding.encode(name, session.id)
        if len(name) + len(value) + 1 > MAX_COOKIE_VALUE:
            raise SessionTooLarge(
                f"cookie {name!r} would be {len(name) + len(value) + 1} bytes; "
                f"browsers drop cookies over {MAX_COOKIE_VALUE}"
            )
        attrs = self._attributes(handler, session, now)
        max_age = None if attrs.max_age is None else int(attrs.max_age)
        handler.set_cookie(
            name,
            value,
            domain=attrs.domain,
            path=attrs.path,
            expires=None if max_age is None else now + max_age,
            max_age=max_age,
            httponly=attrs.http_only,
            secure=attrs.secure,
            samesite=attrs.same_site,
        )
        handler.set_header("Cache-Control", "no-store")
        if self._config.allow_reclaim:
            handler.request.cookies[name] = value  # type: ignore[assignment]

    # -- failures -----------------------------------------------------------

    def _store_failed(self, handler: RequestHandler | None, exc: StoreUnavailable) -> NoReturn:
        """A store call failed: log it (throttled), mark the request, re-raise."""
        self._note_failure(handler, exc)
        raise exc

    def _note_failure(self, handler: RequestHandler | None, exc: StoreUnavailable) -> None:
        if handler is None:
            self._failures.failed(exc, "no request")
        else:
            self._failures.failed(exc, f"{handler.request.method} {handler.request.path}")
            lifecycle.store_failed(handler, exc)

    def _answered(self) -> None:
        """The store answered a call: after failures, log that it is back."""
        if self._failures.failing:
            self._failures.recovered()

    async def _guard(self, session: Session, operation: Awaitable[None]) -> None:
        """Run a store operation of the request path, with :meth:`_failed`
        for its failures; they propagate."""
        try:
            await operation
        except (StoreUnavailable, SessionInterrupted) as exc:
            self._failed(session, exc)
            raise

    def _failed(self, session: Session, exc: Exception) -> None:
        """A store operation of the request path failed; the caller raises
        *exc*. A store failure marks the request failed (503, Retry-After,
        logged); a session destroyed meanwhile drops this request's cookie
        for it (409). Success after a failure is recorded by the calls that
        reached the store (``_answered``)."""
        if isinstance(exc, StoreUnavailable):
            self._note_failure(session.handler, exc)
        elif isinstance(exc, SessionInterrupted):
            lifecycle.conflict(session.handler, self._config.cookie, exc)


def _load_now_of(db: Database) -> Callable[[str], Record | None] | None:
    """The store's synchronous ``load_now``, if it answers from memory and
    its ``load_now`` is as recent as its ``load`` (a subclass that overrides
    ``load`` alone, to add a check, is loaded through ``load``)."""
    if not getattr(db, "answers_at_once", False):
        return None
    mro = type(db).__mro__
    owner = {
        name: next((c for c in mro if name in c.__dict__), None) for name in ("load", "load_now")
    }
    if owner["load_now"] is None or owner["load"] is None:
        return None
    if not issubclass(owner["load_now"], owner["load"]):
        return None
    load_now: Callable[[str], Record | None] = getattr(db, "load_now")  # noqa: B009
    return load_now


def _decode_plain(encoding: Encoding, name: str, value: str) -> tuple[str, bool]:
    return encoding.decode(name, value), False


def _call_sync(callback: DestroyCallback, session_id: str) -> None:
    result = callback(session_id)
    if inspect.isawaitable(result):
        asyncio.run(_awaited(result))


async def _awaited(result: Awaitable[Any]) -> None:
    await result


def _warn_slow(future: asyncio.Future[Any], name: str) -> None:
    if not future.done():
        log.warning(
            "tornsess: on_destroy callback %s still running after %.0f s",
            name,
            _SLOW_CALLBACK,
        )
