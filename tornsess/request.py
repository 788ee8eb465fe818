"""The path of one request, top to bottom: the cookie is read and decoded,
the session loaded (:meth:`RequestPath.start`); the handler runs; its
``finish()`` (or first ``flush()``) waits while the changes are committed in
one store call (:meth:`RequestPath.commit`) and the cookie is written; then
the response goes out. A failed store gives a 503, a session destroyed by a
concurrent request a 409.

Hooking Tornado's response needs a few of its internals. They are used in
this module only, so that a Tornado upgrade is checked here:

- ``RequestHandler._headers_written``: whether the headers went out.
- ``RequestHandler._finished``: set while the commit runs, so that Tornado
  neither finishes the request by itself nor accepts more writes; cleared
  before the real ``finish()``.
- ``RequestHandler._headers``: the response headers, read to add ``Vary``.
- ``RequestHandler._new_cookie``: the cookies this response will set, to
  withdraw a session cookie after a 409.

The handler's ``finish`` and ``flush`` are hooked by instance attributes
(the one mechanism, for :class:`~tornsess.SessionMixin` handlers and any
other), which are removed as the response ends.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, NoReturn, TypeVar

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from ._state import SessionState
from .config import Config, _seconds
from .cookie import (
    MAX_CANDIDATES,
    MAX_COOKIE_VALUE,
    CookieAttributes,
    CookieOption,
    registrable_domain,
    request_cookie_values,
)
from .database import Binding, Database, MemoryDatabase, Record, Renewable, UserIndex
from .encoding import Encoding, KeyedEncoding, RotatingEncoding
from .errors import (
    ConfigError,
    DecodeError,
    SessionInterrupted,
    SessionMoved,
    SessionNotFound,
    SessionSealed,
    SessionTooLarge,
    StoreUnavailable,
)
from .ids import is_valid_id, new_handle, new_id, open_successor, seal_successor, user_tag
from .session import Session

__all__ = ["FailureLog", "RequestPath", "RequestState"]

log: logging.Logger = logging.getLogger("tornsess")

T = TypeVar("T")

DestroyCallback = Callable[[str], Any]
"""``callback(session_id)``, a plain function or a coroutine function."""

RETRY_AFTER = "5"
"""The ``Retry-After`` of a 503 for a failed store, in seconds."""

LOG_INTERVAL = 10.0
"""While a store keeps failing, at most one log line per this many seconds."""

_ID_ATTEMPTS = 8
_SLOW_CALLBACK = 5.0


def expired(record: Record, now: float, idle: float | None) -> bool:
    """Whether a loaded record is past its absolute or idle limit (checked
    again here: a store may keep an expired session until its sweep)."""
    return (record.deadline is not None and record.deadline <= now) or (
        idle is not None and record.accessed + idle <= now
    )


class RequestState:
    """What tornsess keeps on one handler for the length of a request: the
    session each manager started, and where the response stands."""

    __slots__ = ("sessions", "chain", "finishing", "done", "failed")

    def __init__(self) -> None:
        self.sessions: dict[RequestPath, tuple[Session, SessionState]] = {}
        self.chain: asyncio.Future[None] | None = None
        self.finishing: bool = False  # finish() was called; the commit runs
        self.done: bool = False  # the real finish() runs or ran
        self.failed: bool = False  # a store call failed: store nothing more


def state_of(handler: RequestHandler) -> RequestState | None:
    """The request's state, or ``None`` if no session was started in it."""
    return getattr(handler, "_tornsess", None)


class RequestPath:
    """What a :class:`~tornsess.Sessions` manager does for requests: start a
    request's session, commit it, write its cookie, and the steps a session
    takes (save, regenerate, login, destroy). It holds the store in use, the
    ``on_destroy`` callbacks and the store's failure log."""

    def __init__(self, config: Config) -> None:
        self.config: Config = config
        self.encoding: Encoding = config.effective_encoding
        # Whether the encoding tells stale keys apart, decided once (an
        # isinstance check against a Protocol inspects its members).
        self.decode: Callable[[str, str], tuple[str, bool]] = (
            self.encoding.decode_stale
            if isinstance(self.encoding, RotatingEncoding)
            else functools.partial(_decode_fresh, self.encoding)
        )
        self.idle: float | None = config.idle_timeout_seconds
        self.lifetime: float = config.expires_seconds
        self.renew_after: float | None = config.renew_after_seconds
        self.tag_keys: list[bytes] = (
            self.encoding.derive_keys("user tags")
            if isinstance(self.encoding, KeyedEncoding)
            else [b""]
        )
        """The keys of users' index tags (:func:`tornsess.ids.user_tag`),
        derived from the encoding's keys, newest first."""
        self.callbacks: list[DestroyCallback] = []
        self.running: set[asyncio.Future[Any]] = set()
        self.sockets: dict[RequestHandler, SessionState] = {}
        """This process's open WebSockets and their sessions."""
        self.attach(MemoryDatabase())

    def user_tags(self, user_id: str) -> list[str]:
        """The tags the user's index may be filed under, newest key first: a
        login files under the first; a list or a revoke reads them all, so
        that sessions logged in before a key rotation are still found."""
        return list(dict.fromkeys(user_tag(user_id, key) for key in self.tag_keys))

    def attach(self, db: Database) -> None:
        """Use *db* from now on.

        :raises tornsess.ConfigError: ``renew_after`` is set and *db* does not
            renew ids (:class:`~tornsess.database.Renewable`).
        """
        if self.renew_after is not None and not isinstance(db, Renewable):
            raise ConfigError("renew_after", f"{db!r} cannot renew ids (it has no renew() method)")
        self.renewer: Renewable | None = db if isinstance(db, Renewable) else None
        self.db: Database = db
        db.set_expire_listener(self.fire_destroy)
        self.failures: FailureLog = FailureLog(db)
        self.user_index: UserIndex | None = db if isinstance(db, UserIndex) else None

    # -- 1. the cookie, the load, the Session --------------------------------------

    async def start(
        self, handler: RequestHandler, options: tuple[CookieOption, ...]
    ) -> tuple[Session, SessionState]:
        """The request's session and its state (see :meth:`tornsess.Sessions.start`)."""
        request = state_of(handler)
        if request is None:
            request = install(handler)
        else:
            current = request.sessions.get(self)
            if current is not None and current[1].live:
                if options:
                    current[1].options += options
                return current
        try:
            state = await self._open(handler, options)
        except StoreUnavailable as exc:
            self.store_failed(handler, exc)
        found = request.sessions[self] = (Session(self, state), state)
        return found

    def get(self, handler: RequestHandler) -> tuple[Session, SessionState] | None:
        """The live session this manager started in the request, or ``None``."""
        request = state_of(handler)
        if request is None:
            return None
        found = request.sessions.get(self)
        if found is None or not found[1].live:
            return None
        return found

    async def _open(
        self, handler: RequestHandler, options: tuple[CookieOption, ...]
    ) -> SessionState:
        """The state of the session the request's cookie names, or of a
        fresh one: a value that does not decode, an id the store does not
        hold, an expired session or two live ones give a fresh session, and
        the client's id is never adopted."""
        name = self.config.cookie
        now = time.time()
        found: list[tuple[str, Record, bool, str]] = []
        values = self.sent_tokens(handler)
        if len(values) > MAX_CANDIDATES:
            # More than are checked: whichever one would be picked, another
            # might be the real cookie that a sibling domain's junk pushed
            # out. Fail closed.
            log.info(
                "tornsess: request carried %d values in cookie %r (at most %d are "
                "checked); starting a fresh session",
                len(values),
                name,
                MAX_CANDIDATES,
            )
            values = []
        for value in values:
            decoded = self._cookie_id(name, value)
            if decoded is None:
                continue
            sid, stale = decoded
            if any(sid == other[0] for other in found):
                continue
            record = await self.db.load(sid)
            self.answered()
            if record is None:
                continue
            if record.successor is not None:
                # A renewed session's old id, in its grace window: the
                # request goes on under the new id, and the response sends it.
                renewed = open_successor(sid, record.successor)
                if renewed is None or any(renewed == other[0] for other in found):
                    continue
                sid, stale = renewed, True
            if expired(record, now, self.idle):
                if await self.db.destroy(sid):
                    self.fire_destroy(sid)
                continue
            found.append((sid, record, stale, value))
        if len(found) == 1:
            sid, record, stale, token = found[0]
            state = SessionState(handler, sid, record, options, self.lifetime, now)
            state.token = token
            state.cookie_dirty = stale  # made with an older key: re-issue it
            if self.renew_after is None or now - state.issued < self.renew_after:
                return state
            if await self._renew_at_start(handler, state, now):
                return state
        if found:
            log.info(
                "tornsess: request carried %d live sessions in cookie %r; starting a fresh one",
                len(found),
                name,
            )
        # The default id is drawn when first needed (most anonymous sessions
        # never need one); a custom generator's id is checked against the
        # store now.
        sid_new = None if self.config.session_id_generator is None else await self.new_id(handler)
        return SessionState(handler, sid_new, None, options, self.lifetime, now)

    async def _renew_at_start(
        self, handler: RequestHandler, state: SessionState, now: float
    ) -> bool:
        """Renew the id of a session whose id is older than ``renew_after``,
        before the handler runs, so that the handler sees the id the
        response sends. Not on a WebSocket handshake, where no new id could
        reach the client. ``False``: the session vanished meanwhile."""
        if handler.request.headers.get("Upgrade", "").lower() == "websocket":
            return True
        try:
            await self._renew(state, now)
        except SessionInterrupted:
            return False
        return True

    def sent_tokens(self, handler: RequestHandler) -> list[str]:
        """The tokens the request sent: every value under the session
        cookie's name, or of the token header (``Config.header``), in order,
        deduplicated."""
        header = self.config.header
        if header is None:
            return request_cookie_values(handler.request, self.config.cookie)
        return list(dict.fromkeys(v.strip() for v in handler.request.headers.get_list(header)))

    def _cookie_id(self, name: str, value: str) -> tuple[str, bool] | None:
        """The session id one cookie value carries and whether to re-issue
        it (made with an older key), or ``None`` for a value to ignore:
        empty, oversized, undecodable, or not a valid id."""
        if not value or len(value) > MAX_COOKIE_VALUE:
            return None
        try:
            sid, stale = self.decode(name, value)
        except DecodeError:
            return None
        if not is_valid_id(sid):
            return None
        return sid, stale

    async def new_id(self, handler: RequestHandler) -> str:
        """A new session id: from ``secrets``, or from the configured
        generator, checked against the store.

        :raises tornsess.ConfigError: the generator gave an invalid id, or
            ids already in use too often.
        """
        generator = self.config.session_id_generator
        if generator is None:
            return new_id()
        for _ in range(_ID_ATTEMPTS):
            sid = generator(handler)
            if not is_valid_id(sid):
                raise ConfigError(
                    "session_id_generator",
                    f"returned {sid!r}; ids must be 1 to 128 characters of [A-Za-z0-9._-]",
                )
            if not await self.db.exists(sid):
                return sid
        raise ConfigError(
            "session_id_generator",
            f"returned ids already in use {_ID_ATTEMPTS} times in a row",
        )

    # -- 2. the commit, the cookie ---------------------------------------------------

    def touch_due(self, state: SessionState, now: float) -> bool:
        """Whether the idle refresh is due: a tenth of the idle timeout has
        passed since the store last recorded activity."""
        return self.idle is not None and now - state.accessed >= self.idle / 10

    def pending(self, state: SessionState) -> bool:
        """Whether committing *state* would do anything."""
        return state.pending(self.config.save_uninitialized, self.touch_due(state, time.time()))

    def expires_at(self, deadline: float | None, accessed: float) -> float | None:
        """When the store may forget a session: the earlier of its deadline
        and the end of its idle time."""
        if self.idle is None:
            return deadline
        idle_end = accessed + self.idle
        return idle_end if deadline is None else min(deadline, idle_end)

    async def commit(self, state: SessionState) -> None:
        """Store the session's changes (one store call) and write its cookie
        if it must be sent.

        :raises tornsess.SessionInterrupted: the session was destroyed meanwhile.
        :raises tornsess.StoreUnavailable: the store failed.
        """
        if not state.live:
            return
        db = self.db
        now = time.time()
        if not state.stored:
            if not self.pending(state):
                return
            sid = state.ensure_id()
            record = state.first_record(now, self.expires_at(state.deadline, now))
            while not await db.create(sid, record):
                sid = await self.new_id(self._handler(state))
            self.answered()
            state.mark_stored(sid)
        else:
            assert state.id is not None
            ops, times = state.take_changes()
            try:
                if ops or times:
                    expires_at = self.expires_at(state.deadline, now)
                    try:
                        await db.commit(state.id, ops, now, state.deadline, expires_at)
                    except SessionMoved as moved:
                        self.follow(state, moved, now)
                        await db.commit(state.id, ops, now, state.deadline, expires_at)
                    self.answered()
                elif self.touch_due(state, now):
                    expires_at = self.expires_at(state.deadline, now)
                    try:
                        touched = await db.touch(state.id, now, expires_at)
                    except SessionMoved as moved:
                        self.follow(state, moved, now)
                        touched = await db.touch(state.id, now, expires_at)
                    self.answered()
                    if not touched:
                        raise SessionInterrupted("the session was destroyed or expired")
            except SessionInterrupted:
                state.mark_destroyed()
                raise
            except BaseException:
                state.restore_changes(ops)
                raise
        if state.committed(now) and not state.socket:
            self.write_cookie(self._handler(state), state, now)

    def follow(self, state: SessionState, moved: SessionMoved, now: float) -> None:
        """The store says the session's id was renewed (by a concurrent
        request): move the request to the new id.

        :raises tornsess.SessionInterrupted: the store's successor was not
            sealed under this id (a store holds what it did not write).
        """
        assert state.id is not None
        renewed = open_successor(state.id, moved.successor)
        if renewed is None:
            log.warning("tornsess: ignoring a renewed session's successor that cannot be opened")
            raise SessionInterrupted("the session was destroyed or expired")
        self.move_sockets(state.id, renewed)
        state.moved(renewed, now)

    async def _renew(self, state: SessionState, now: float) -> None:
        """Give the session a new id and keep the old one as an alias for
        ``renew_grace`` seconds (:meth:`~tornsess.database.Renewable.renew`);
        if a concurrent request renewed it first, take the id it chose."""
        assert state.id is not None and self.renewer is not None
        old = state.id
        until = now + self.config.renew_grace_seconds
        for _ in range(_ID_ATTEMPTS):
            new = await self.new_id(self._handler(state))
            result = await self.renewer.renew(old, new, seal_successor(old, new), now, until)
            self.answered()
            if result is True:
                self.move_sockets(old, new)
                state.renamed(new, now)
                return
            if result is not False:
                self.follow(state, SessionMoved(result), now)
                return
        # The store found every new id taken (or, on a cluster, the session
        # kept changing under the copy): the id is renewed by a later request.
        log.warning("tornsess: renewing a session id failed %d times; left for later", _ID_ATTEMPTS)

    @staticmethod
    def _handler(state: SessionState) -> RequestHandler:
        handler = state.handler
        if handler is None:
            raise SessionInterrupted("the response has ended; the session has no request")
        return handler

    def attributes(
        self, handler: RequestHandler, state: SessionState, now: float
    ) -> CookieAttributes:
        """The attributes of the session's cookie in this response."""
        config = self.config
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
            max_age=state.cookie_max_age(now),
        )
        for option in state.options:
            option(attrs)
        return attrs

    def write_cookie(self, handler: RequestHandler, state: SessionState, now: float) -> None:
        """Send the session's token with the response: its cookie, or the
        token header (``Config.header``).

        :raises tornsess.SessionTooLarge: the cookie would pass 4096 bytes.
        """
        name = self.config.cookie
        value = self.encoding.encode(name, state.ensure_id())
        if len(name) + len(value) + 1 > MAX_COOKIE_VALUE:
            raise SessionTooLarge(
                f"cookie {name!r} would be {len(name) + len(value) + 1} bytes; "
                f"browsers drop cookies over {MAX_COOKIE_VALUE}"
            )
        state.token = value
        if self.config.header is not None:
            handler.set_header(self.config.header, value)
            handler.set_header("Cache-Control", "no-store")
            return
        attrs = self.attributes(handler, state, now)
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
        if self.config.allow_reclaim:
            handler.request.cookies[name] = value  # type: ignore[assignment]

    def clear_cookie(self, handler: RequestHandler, state: SessionState) -> None:
        """Delete the session's cookie, with its Path and Domain, or send the
        token header empty (``Config.header``)."""
        state.token = None
        if self.config.header is not None:
            handler.set_header(self.config.header, "")
            handler.set_header("Cache-Control", "no-store")
            return
        name = self.config.cookie
        attrs = self.attributes(handler, state, time.time())
        handler.clear_cookie(
            name,
            path=attrs.path,
            domain=attrs.domain,
            secure=attrs.secure,
            httponly=attrs.http_only,
            samesite=attrs.same_site,
        )
        handler.set_header("Cache-Control", "no-store")
        if self.config.allow_reclaim:
            handler.request.cookies.pop(name, None)

    # -- 3. the steps a session takes (the Engine of tornsess.session) -----------------

    async def save(self, state: SessionState) -> None:
        """``Session.save``: commit now. On a WebSocket, a session destroyed
        meanwhile raises :class:`~tornsess.SessionNotFound`, and one that
        was never stored cannot be (no cookie could reach the browser)."""
        if not state.socket:
            await self.guard(state, self.commit(state))
            return
        if not state.live:
            raise SessionNotFound("the session was destroyed")
        if not state.stored:
            raise SessionSealed(
                "this WebSocket's handshake carried no stored session, and a session "
                "created now could never reach the browser (no cookie follows a "
                "WebSocket): store it in a page request before opening the socket"
            )
        try:
            await self.commit(state)
        except SessionInterrupted:
            raise SessionNotFound("the session was destroyed or expired") from None

    async def refresh(self, state: SessionState) -> None:
        """``Session.refresh``: store the changes made so far, then read the
        session again from the store.

        :raises tornsess.SessionNotFound: the session no longer exists.
        """
        if state.stored:
            await self.save(state)
        if not state.live or not state.stored:
            raise SessionNotFound("the session was destroyed, or never stored")
        assert state.id is not None
        try:
            record = await self.db.load(state.id)
        except StoreUnavailable as exc:
            self.note_failure(None, exc)
            raise
        self.answered()
        now = time.time()
        if record is not None and record.successor is not None:
            try:
                self.follow(state, SessionMoved(record.successor), now)
            except SessionInterrupted:
                record = None
        if record is None or expired(record, now, self.idle):
            state.mark_destroyed()
            raise SessionNotFound("the session was destroyed or expired")
        state.load(record)

    async def regenerate(self, state: SessionState) -> None:
        """``Session.regenerate``: a new id, the old one dead at once."""
        _refuse_on_socket(state, "regenerate")
        await self.guard(state, self._regenerate(state))

    async def destroy(self, state: SessionState) -> None:
        """``Session.destroy``: remove it from the store."""
        await self.guard(state, self._destroy(state))

    async def login(
        self, state: SessionState, user_id: str, remember: Any, keep_values: bool
    ) -> None:
        """``Session.login``: regenerate, clear another user's data, bind,
        store, index."""
        _refuse_on_socket(state, "login")
        await self.guard(state, self._login(state, user_id, remember, keep_values))

    async def _regenerate(self, state: SessionState, *, reindex: bool = True) -> None:
        handler = self._handler(state)
        new = await self.new_id(handler)
        now = time.time()
        if state.stored:
            assert state.id is not None
            try:
                for _ in range(_ID_ATTEMPTS):
                    if await self._rename(state, new, now):
                        break
                    new = await self.new_id(handler)
                else:
                    # Every new id taken, or (Redis Cluster) the session kept
                    # changing under the copy: give up as on a lost race.
                    raise SessionInterrupted("the session could not be moved to a new id")
                self.answered()
            except SessionInterrupted:
                state.mark_destroyed()
                raise
            entry = self._index_entry(state) if reindex else None
            if entry is not None:
                # The user's index entry follows the new id (a separate
                # step, safe to repeat: a login writes it again).
                index, tag, handle = entry
                await index.index_add(tag, handle, new, self.expires_at(state.deadline, now))
        state.renamed(new, now)

    async def _rename(self, state: SessionState, new: str, now: float) -> bool:
        """Rename the stored session to *new*, following a concurrent renewal
        of its id; ``False`` if *new* is taken."""
        assert state.id is not None
        if self.renewer is None:  # a store of its own, which knows no renewal
            return await self.db.rename(state.id, new)
        try:
            return await self.renewer.rename(state.id, new, now)
        except SessionMoved as moved:
            self.follow(state, moved, now)
            return await self.renewer.rename(state.id, new, now)

    async def _login(
        self, state: SessionState, user_id: str, remember: Any, keep_values: bool
    ) -> None:
        before = state.binding
        await self._regenerate(state, reindex=False)
        if before is not None and before.user_id != user_id and not keep_values:
            state.clear_all()  # nothing of the previous user's carries over
        now = time.time()
        tag = self.user_tags(user_id)[0]
        ip = agent = None
        if self.config.record_client:
            request = self._handler(state).request
            ip, agent = request.remote_ip, request.headers.get("User-Agent", "")[:256]
        binding = Binding(user_id, new_handle(tag), tag, now, ip, agent)
        state.bind(binding)
        if remember is not None:
            seconds = _seconds("remember", remember)
            assert seconds is not None
            state.set_lifetime(seconds, now)
        await self.commit(state)  # stored now, the cookie with this response
        index = self.user_index
        if index is None:
            return  # logged in; only the device lists need the index
        if before is not None:
            await index.index_remove(before.tag, before.handle)
        assert state.id is not None
        await index.index_add(tag, binding.handle, state.id, self.expires_at(state.deadline, now))
        self.answered()

    async def _destroy(self, state: SessionState) -> None:
        if not state.live:
            return
        if state.stored:
            assert state.id is not None
            try:
                existed = await self.db.destroy(state.id)
            except SessionMoved as moved:
                self.follow(state, moved, time.time())
                existed = await self.db.destroy(state.id)
            self.answered()
            entry = self._index_entry(state)
            if entry is not None:
                index, tag, handle = entry
                await index.index_remove(tag, handle)
            if existed:
                self.fire_destroy(state.id)
            self.close_sockets(state.id, None)
        state.mark_destroyed()

    def _index_entry(self, state: SessionState) -> tuple[UserIndex, str, str] | None:
        """``(index, user tag, handle)`` of a logged-in session whose store
        keeps a user index; ``None`` otherwise."""
        bound = state.binding
        if bound is None or self.user_index is None:
            return None
        return self.user_index, bound.tag, bound.handle

    # -- sessions made and read outside a request (tornsess.testing) ------------------

    async def store_new(self, values: Mapping[str, Any], user_id: str | None) -> str:
        """Store a new session holding *values* (logged in as *user_id*,
        if given) outside any request; return its token.

        :raises TypeError: a key or a value a session cannot hold.
        :raises tornsess.StoreUnavailable: the store failed.
        """
        now = time.time()
        state = SessionState(None, None, None, (), self.lifetime, now)
        session = Session(self, state)
        for key, value in values.items():
            session.set(key, value)
        if user_id is not None:
            tag = self.user_tags(user_id)[0]
            state.binding = Binding(user_id, new_handle(tag), tag, now)
        record = state.first_record(now, self.expires_at(state.deadline, now))
        sid = new_id()
        while not await self.store_call(self.db.create(sid, record)):
            sid = new_id()
        if state.binding is not None and self.user_index is not None:
            binding = state.binding
            await self.store_call(
                self.user_index.index_add(binding.tag, binding.handle, sid, record.expires_at)
            )
        return self.encoding.encode(self.config.cookie, sid)

    async def read(self, token: str) -> Record | None:
        """The live session a token names, or ``None``.

        :raises tornsess.StoreUnavailable: the store failed.
        """
        found = self._cookie_id(self.config.cookie, token)
        if found is None:
            return None
        record = await self.store_call(self.db.load(found[0]))
        if record is None or expired(record, time.time(), self.idle):
            return None
        return record

    # -- WebSockets ------------------------------------------------------------------

    def open_socket(self, handler: RequestHandler, state: SessionState) -> None:
        """The handshake's response went out: the session lives on with the
        WebSocket until it closes (:meth:`close_socket`)."""
        state.socket = True
        self.sockets[handler] = state

    def close_socket(self, handler: RequestHandler) -> None:
        """The WebSocket closed: let go of it; unsaved changes are logged."""
        state = self.sockets.pop(handler, None)
        if state is None:
            return
        if state.live and state.stored and state.ops:  # what save() could have stored
            log.warning(
                "tornsess: a WebSocket closed with %d unsaved session change(s); "
                "call `await self.session.save()` to store changes made after "
                "the handshake",
                len(state.ops),
            )
        state.release()

    async def destroy_id(self, session_id: str) -> tuple[bool, str]:
        """Destroy the session *session_id* names (the renewed one, for an
        old id in its grace window); return whether it existed, and its id.

        :raises tornsess.StoreUnavailable: the store failed (logged).
        """
        try:
            existed = await self.store_call(self.db.destroy(session_id))
        except SessionMoved as moved:
            renewed = open_successor(session_id, moved.successor)
            if renewed is None:
                return False, session_id
            session_id = renewed
            existed = await self.store_call(self.db.destroy(session_id))
        return existed, session_id

    def move_sockets(self, old_id: str, new_id: str) -> None:
        """This process's WebSockets of a session whose id was renewed go on
        under the new id (so that destroying it closes them)."""
        for state in self.sockets.values():
            if state.id == old_id:
                state.id = new_id

    def close_sockets(
        self, session_id: str | None, handles: Collection[str] | None, *, every: bool = False
    ) -> None:
        """Close this process's WebSockets of a destroyed session (by its id
        or its handle; *every*: all of them), with code 1008."""
        for handler, state in list(self.sockets.items()):
            if every or (session_id is not None and state.id == session_id):
                pass
            else:
                bound = state.binding
                if handles is None or bound is None or bound.handle not in handles:
                    continue
            state.mark_destroyed()
            close: Callable[[int, str], None] | None = getattr(handler, "close", None)
            if close is not None:
                close(1008, "session ended")
            self.close_socket(handler)

    # -- on_destroy ------------------------------------------------------------------

    def fire_destroy(self, session_id: str) -> None:
        """Run every ``on_destroy`` callback for *session_id*."""
        for callback in self.callbacks:
            self._run_callback(callback, session_id)

    def _run_callback(self, callback: DestroyCallback, session_id: str) -> None:
        name = getattr(callback, "__qualname__", repr(callback))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                _call_sync(callback, session_id)
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
        self.running.add(future)
        slow = loop.call_later(_SLOW_CALLBACK, _warn_slow, future, name)

        def done(fut: asyncio.Future[Any]) -> None:
            self.running.discard(fut)
            slow.cancel()
            if fut.cancelled():
                return
            exc = fut.exception()
            if exc is not None:
                log.error("tornsess: on_destroy callback %s failed", name, exc_info=exc)

        future.add_done_callback(done)

    # -- failures --------------------------------------------------------------------

    async def guard(self, state: SessionState, operation: Awaitable[None]) -> None:
        """Run a store operation of the request path; a failure marks the
        request (503 for a store failure, 409 for a session destroyed
        meanwhile) and propagates."""
        try:
            await operation
        except (StoreUnavailable, SessionInterrupted) as exc:
            self.failed(state, exc)
            raise

    def failed(self, state: SessionState, exc: Exception) -> None:
        """A store operation of the request path failed; the caller raises
        *exc*. A store failure marks the request failed (503, Retry-After,
        logged); a session destroyed meanwhile drops this request's cookie
        for it (409)."""
        handler = state.handler
        if handler is None:
            if isinstance(exc, StoreUnavailable):
                self.failures.failed(exc, "no request")
            return
        if isinstance(exc, StoreUnavailable):
            self.note_failure(handler, exc)
        elif isinstance(exc, SessionInterrupted):
            conflict(handler, self.config.cookie, exc)

    def store_failed(self, handler: RequestHandler | None, exc: StoreUnavailable) -> NoReturn:
        """A store call failed: log it (throttled), mark the request, re-raise."""
        self.note_failure(handler, exc)
        raise exc

    def note_failure(self, handler: RequestHandler | None, exc: StoreUnavailable) -> None:
        """Log a store failure (throttled) and mark the request failed."""
        if handler is None:
            self.failures.failed(exc, "no request")
            return
        self.failures.failed(exc, f"{handler.request.method} {handler.request.path}")
        request = state_of(handler)
        if request is not None:
            request.failed = True

    def answered(self) -> None:
        """The store answered a call: after failures, log that it is back."""
        if self.failures.failing:
            self.failures.recovered()

    async def store_call(self, call: Awaitable[T]) -> T:
        """A store call outside a request: a failure is logged (throttled)
        and raised, a success after failures is logged once."""
        try:
            result = await call
        except StoreUnavailable as exc:
            self.store_failed(None, exc)
        self.answered()
        return result


class FailureLog:
    """Logs the failures of one store without flooding the log.

    The first failure is logged at once (ERROR). While the store keeps
    failing, at most one line per :attr:`interval` seconds follows, counting
    the failures it did not log. The first success after a failure logs one
    line (WARNING) with the length of the outage. No traceback is logged:
    the message of the store's error says what failed.
    """

    __slots__ = ("store", "interval", "failing", "_clock", "_since", "_last", "_count", "_quiet")

    def __init__(
        self,
        store: object,
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store: str = repr(store)
        self.interval: float = interval
        self.failing: bool = False
        self._clock = clock
        self._since = self._last = 0.0
        self._count = self._quiet = 0

    def failed(self, exc: BaseException, where: str) -> None:
        """Record one failure of the store, seen at *where* (for the log)."""
        if getattr(exc, "_tornsess_logged", False):
            return
        try:
            exc._tornsess_logged = True  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - exotic exception types
            pass
        now = self._clock()
        if not self.failing:
            self.failing = True
            self._since = self._last = now
            self._count, self._quiet = 1, 0
            log.error("tornsess: session store %s unavailable (%s): %s", self.store, where, exc)
            return
        self._count += 1
        if now - self._last < self.interval:
            self._quiet += 1
            return
        log.error(
            "tornsess: session store %s still unavailable (%s): %s; "
            "%d more failure(s) since the last line not logged",
            self.store,
            where,
            exc,
            self._quiet,
        )
        self._last, self._quiet = now, 0

    def recovered(self) -> None:
        """Record that the store answered; logs once after a failure."""
        if not self.failing:
            return
        self.failing = False
        log.warning(
            "tornsess: session store %s answers again after %.1f s and %d failed call(s)",
            self.store,
            self._clock() - self._since,
            self._count,
        )


# -- the hooks on finish() and flush() -------------------------------------------------


def install(handler: RequestHandler) -> RequestState:
    """Hook the handler's ``finish()`` and ``flush()`` for this request: they
    commit the request's sessions before the response goes out. The hooks
    are instance attributes that refer to the handler (a reference cycle),
    removed as the response ends (:func:`_really_finish`), which also lets
    the sessions go of the handler, so that reference counting frees the
    handler, its request and its sessions, as in bare Tornado."""
    request = RequestState()
    handler.finish = functools.partial(hooked_finish, handler, request)  # type: ignore[method-assign]
    handler.flush = functools.partial(hooked_flush, handler, request)  # type: ignore[method-assign]
    handler._tornsess = request  # type: ignore[attr-defined]
    return request


def hooked_finish(
    handler: RequestHandler, request: RequestState, chunk: Any = None
) -> asyncio.Future[None]:
    """The handler's ``finish()`` while its sessions are open: store them,
    then finish (at once when nothing is to be stored)."""
    if request.done:  # a hook kept from before the response ended
        return _own_finish(handler, chunk)
    if request.finishing:
        raise RuntimeError("finish() called twice")
    if handler.get_status() == 101:  # a WebSocket handshake: no commit, no cookie
        _unhook(handler, request)
        for path, (_, state) in request.sessions.items():
            path.open_socket(handler, state)
        return _own_finish(handler, chunk)
    if sys.exc_info()[1] is not None:  # Tornado's error page for an exception
        _error_raised(handler, request)
    if request.failed:
        # A store call failed in this request: nothing is stored, no cookie.
        if handler.get_status() == 503 and not handler._headers_written:
            _unavailable_headers(handler)
        return _really_finish(handler, request, chunk)
    if not handler._headers_written:
        _add_vary(handler, request)
    if request.chain is None and not _pending(request):  # nothing to store
        return _really_finish(handler, request, chunk)
    if chunk is not None:
        handler.write(chunk)
    request.finishing = True
    # Look finished to Tornado (no writes, no auto-finish) while we store.
    handler._finished = True
    return _defer(handler, request, _finish_after_commit)


def hooked_flush(
    handler: RequestHandler, request: RequestState, include_footers: bool = False
) -> asyncio.Future[None]:
    """The handler's ``flush()`` while its sessions are open: the first
    flush sends the headers, so the sessions are stored before it."""
    if request.done:  # a hook kept from before the response ended
        return _own_flush(handler, include_footers)

    def flush(handler: RequestHandler, request: RequestState) -> asyncio.Future[None]:
        if not handler._headers_written:
            _add_vary(handler, request)
            _seal(request)
        return _own_flush(handler, include_footers)

    if request.chain is None and (handler._headers_written or not _pending(request)):
        return flush(handler, request)
    return _defer(handler, request, flush)


def _own_finish(handler: RequestHandler, chunk: Any = None) -> asyncio.Future[None]:
    """The handler's own ``finish()`` (its class's), past the hook."""
    finish: Callable[..., asyncio.Future[None]] = type(handler).finish
    return finish(handler, chunk)


def _own_flush(handler: RequestHandler, include_footers: bool = False) -> asyncio.Future[None]:
    """The handler's own ``flush()`` (its class's), past the hook."""
    flush: Callable[..., asyncio.Future[None]] = type(handler).flush
    return flush(handler, include_footers)


def _pending(request: RequestState) -> bool:
    for path, (_, state) in request.sessions.items():
        if path.pending(state):
            return True
    return False


def _seal(request: RequestState) -> None:
    """The headers go out: the sessions take no more changes."""
    for _, state in request.sessions.values():
        state.sealed = True


def _add_vary(handler: RequestHandler, request: RequestState) -> None:
    """Add what the sessions were read from (``Cookie``, or the token
    header) to the response's ``Vary``."""
    headers = handler._headers
    for path in request.sessions:
        name = path.config.header or "Cookie"
        vary = headers.get_list("Vary")
        if not vary:
            headers["Vary"] = name
        elif name.lower() not in {part.strip().lower() for part in ",".join(vary).split(",")}:
            headers["Vary"] = f"{', '.join(vary)}, {name}"


def _defer(
    handler: RequestHandler,
    request: RequestState,
    action: Callable[[RequestHandler, RequestState], Any],
) -> asyncio.Future[None]:
    """Run *action* (the real finish or flush) once the sessions are stored,
    after any earlier deferred action, in a Task (the store's calls may be
    cancelled by their timeouts)."""
    future = asyncio.ensure_future(_commit_then(handler, request, action, request.chain))
    request.chain = future
    return future


async def _commit_then(
    handler: RequestHandler,
    request: RequestState,
    action: Callable[[RequestHandler, RequestState], Any],
    previous: asyncio.Future[None] | None,
) -> None:
    if previous is not None:
        await asyncio.wait([previous])
    if request.done:
        return
    try:
        await _commit_all(request)
    except StoreUnavailable:
        _replace_response(handler, request, 503)  # logged by the RequestPath
        return
    except SessionInterrupted:
        _replace_response(handler, request, 409)  # logged by conflict()
        return
    except Exception:
        log.exception(
            "tornsess: storing the session of %s %s failed",
            handler.request.method,
            handler.request.path,
        )
        _replace_response(handler, request, 500)
        return
    try:
        result = action(handler, request)
        if result is not None:
            await result
    except StreamClosedError:
        pass  # the client went away; nothing left to send
    except Exception:
        # Nobody awaits this task: log here rather than lose the error.
        log.exception(
            "tornsess: finishing %s %s failed",
            handler.request.method,
            handler.request.path,
        )


async def _commit_all(request: RequestState) -> None:
    """Store every session of the request before its headers go out; after
    that, changes are refused (the cookie could no longer follow).

    :raises tornsess.SessionInterrupted: a session was destroyed by a
        concurrent request (the others are still stored).
    :raises tornsess.StoreUnavailable: the store failed.
    """
    _seal(request)
    lost: SessionInterrupted | None = None
    for path, (_, state) in list(request.sessions.items()):
        try:
            await path.guard(state, path.commit(state))
        except SessionInterrupted as exc:
            lost = exc
    if lost is not None:
        raise lost


def _finish_after_commit(handler: RequestHandler, request: RequestState) -> asyncio.Future[None]:
    handler._finished = False
    return _really_finish(handler, request)


def _really_finish(
    handler: RequestHandler, request: RequestState, chunk: Any = None
) -> asyncio.Future[None]:
    """The handler's own ``finish()``, past the hooks, which it removes."""
    _unhook(handler, request)
    try:
        return _own_finish(handler, chunk)
    finally:
        for _, state in request.sessions.values():
            state.release()


def _unhook(handler: RequestHandler, request: RequestState) -> None:
    """Remove the hooks: from now on ``finish()`` and ``flush()`` are the
    handler's own."""
    if request.done:
        return
    request.done = True
    for name in ("finish", "flush"):
        try:
            delattr(handler, name)
        except AttributeError:  # pragma: no cover - removed by the application
            pass


# -- failed responses ------------------------------------------------------------------


def conflict(handler: RequestHandler, cookie: str, exc: SessionInterrupted) -> None:
    """The session was destroyed by a concurrent request (or earlier in this
    one) before this request's changes were stored: log it once, and drop any
    cookie this request set for it, so the winner's cookie stands."""
    if not getattr(exc, "_tornsess_logged", False):
        exc._tornsess_logged = True  # type: ignore[attr-defined]
        log.info(
            "tornsess: %s %s: %s; this request's session changes were dropped (409)",
            handler.request.method,
            handler.request.path,
            exc,
        )
    cookies = getattr(handler, "_new_cookie", None)
    if cookies is not None and cookie in cookies and cookies[cookie].value:
        del cookies[cookie]


def _unavailable_headers(handler: RequestHandler) -> None:
    handler.set_header("Retry-After", RETRY_AFTER)
    handler.set_header("Cache-Control", "no-store")


def _error_raised(handler: RequestHandler, request: RequestState) -> None:
    """Called as the response finishes: if it is Tornado's error page for a
    tornsess error raised out of the handler (``sys.exc_info`` is set while
    ``send_error`` runs), mark the request accordingly."""
    exc = sys.exc_info()[1]
    if isinstance(exc, StoreUnavailable):
        request.failed = True
    elif isinstance(exc, SessionInterrupted):
        for path, (_, state) in request.sessions.items():
            if not state.live:
                conflict(handler, path.config.cookie, exc)
        handler.set_header("Cache-Control", "no-store")


def _replace_response(handler: RequestHandler, request: RequestState, status: int) -> None:
    """Finish the request with an error page instead of what the handler
    wrote (only the end of it, if the headers are already out)."""
    handler._finished = False
    if handler._headers_written:
        _really_finish(handler, request)
        return
    _unhook(handler, request)
    handler.clear()
    handler.set_status(status)
    if status == 503:
        _unavailable_headers(handler)
    elif status == 409:
        handler.set_header("Cache-Control", "no-store")
    try:
        handler.write_error(status)
    except Exception:
        log.exception("tornsess: write_error failed")
    if not handler._finished:
        _really_finish(handler, request)
    else:
        for _, state in request.sessions.values():
            state.release()


def _refuse_on_socket(state: SessionState, what: str) -> None:
    if state.socket:
        raise SessionSealed(
            f"cannot {what} on a WebSocket: the new id's cookie could never reach the "
            "browser; do it in a page request"
        )


def _decode_fresh(encoding: Encoding, name: str, value: str) -> tuple[str, bool]:
    """An encoding without key rotation: its values are never stale."""
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
