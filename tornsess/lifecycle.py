"""One request's session lifecycle: the hooks on the handler's ``finish()``
and ``flush()`` that store every session of the request before its response
goes out, and the responses for a failed store (503) and a lost race (409).

The path of one request reads top to bottom in two files: the manager
(:mod:`tornsess.manager`) opens the session in :meth:`Sessions.start
<tornsess.Sessions.start>`, which calls :func:`install` here once per
request; when the handler finishes, :func:`hooked_finish` commits through the
manager, then sends the response.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Protocol

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from .errors import SessionInterrupted, StoreUnavailable


class Tracked(Protocol):
    """What the lifecycle needs of a session (a :class:`tornsess.Session`)."""

    def _live(self) -> bool: ...

    def _pending(self) -> bool: ...

    def _seal(self) -> None: ...

    def _release(self) -> None: ...


class Manager(Protocol):
    """What the lifecycle needs of a manager (a :class:`tornsess.Sessions`).
    Protocols keep this module free of imports of the manager and the
    session, which import it."""

    @property
    def config(self) -> Any: ...

    @property
    def database(self) -> Any: ...

    @property
    def _at_once(self) -> bool: ...

    def _commit(self, session: Any) -> Awaitable[None]: ...

    def _failed(self, session: Any, exc: Exception) -> None: ...


__all__ = ["FailureLog", "RequestState", "hooked_finish", "hooked_flush", "install", "state_of"]

log = logging.getLogger("tornsess")

RETRY_AFTER = "5"
"""The ``Retry-After`` of a 503 for a failed store, in seconds."""

LOG_INTERVAL = 10.0
"""While a store keeps failing, at most one log line per this many seconds."""


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
        self.store = repr(store)
        self.interval = interval
        self.failing = False
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


class RequestState:
    """What tornsess keeps on one handler for the length of a request: the
    session each manager started, where the response stands, and how to
    reach the handler's own ``finish()`` and ``flush()`` past the hooks."""

    __slots__ = (
        "sessions",
        "chain",
        "finishing",
        "done",
        "failed",
        "hooked",
        "real_finish",
        "real_flush",
    )

    def __init__(
        self,
        hooked: bool,
        real_finish: Callable[[Any, Any], Any],
        real_flush: Callable[[Any, bool], Any],
    ) -> None:
        self.sessions: dict[Manager, Tracked] = {}
        self.chain: asyncio.Future[None] | None = None
        self.finishing = False  # finish() was called; the commit runs
        self.done = False  # the real finish() runs or ran
        self.failed = False  # a store call failed: store nothing more
        self.hooked = hooked  # the hooks are instance attributes
        self.real_finish = real_finish
        self.real_flush = real_flush


def state_of(handler: RequestHandler) -> RequestState | None:
    """The request's state, or ``None`` if no session was started in it."""
    # getattr, not handler.__dict__: reading an instance's __dict__ turns its
    # attributes into a real dict, which slows every later attribute access
    # of Tornado's on the handler. SessionMixin declares the attribute.
    return getattr(handler, "_tornsess", None)


def _type_finish(handler: RequestHandler, chunk: Any = None) -> Any:
    return type(handler).finish(handler, chunk)


def _type_flush(handler: RequestHandler, include_footers: bool = False) -> Any:
    return type(handler).flush(handler, include_footers)


def install(handler: RequestHandler) -> RequestState:
    """Hook the handler's ``finish()`` and ``flush()`` (once per request).

    A :class:`~tornsess.SessionMixin` handler has the hooks in its class
    (``finish`` and ``flush`` call :func:`hooked_finish` and
    :func:`hooked_flush` while a request's sessions are open) and reaches its
    own methods through ``_tornsess_real_finish`` and
    ``_tornsess_real_flush``. Any other handler gets them as instance
    attributes; those refer to the handler, a reference cycle, which
    :func:`_really_finish` removes as the response ends. It also releases
    the sessions' reference to the handler, so that the handler, its request
    and its sessions are freed by reference counting, as in bare Tornado,
    instead of waiting for the cyclic garbage collector.
    """
    cls = type(handler)
    real_finish = getattr(cls, "_tornsess_real_finish", None)
    if real_finish is not None:
        state = RequestState(False, real_finish, cls._tornsess_real_flush)  # type: ignore[attr-defined]
    else:
        state = RequestState(True, _type_finish, _type_flush)
        handler.finish = functools.partial(hooked_finish, handler, state)  # type: ignore[method-assign]
        handler.flush = functools.partial(hooked_flush, handler, state)  # type: ignore[method-assign]
    handler._tornsess = state  # type: ignore[attr-defined]
    return state


def _unhook(handler: RequestHandler, state: RequestState) -> None:
    """Remove the hooks: from now on ``finish()`` and ``flush()`` are the
    handler's own."""
    state.done = True
    if state.hooked:
        state.hooked = False
        for name in ("finish", "flush"):
            try:
                delattr(handler, name)
            except AttributeError:  # pragma: no cover - removed by the application
                pass


def _release(state: RequestState) -> None:
    for session in state.sessions.values():
        session._release()


def _really_finish(handler: RequestHandler, state: RequestState, chunk: Any = None) -> Any:
    """The handler's own ``finish()``, past the hooks, which it removes."""
    _unhook(handler, state)
    try:
        return state.real_finish(handler, chunk)
    finally:
        _release(state)


# -- failures ------------------------------------------------------------------


def store_failed(handler: RequestHandler, exc: StoreUnavailable) -> None:
    """A store call of this request failed: store nothing more in it, and
    answer 503 with ``Retry-After`` if the error propagates."""
    state = state_of(handler)
    if state is not None:
        state.failed = True


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
    _drop_cookie(handler, cookie)


def _drop_cookie(handler: RequestHandler, name: str) -> None:
    """Withdraw a Set-Cookie for *name* this response would send, unless it
    deletes the cookie."""
    cookies = getattr(handler, "_new_cookie", None)
    if cookies is not None and name in cookies and cookies[name].value:
        del cookies[name]


def _unavailable_headers(handler: RequestHandler) -> None:
    handler.set_header("Retry-After", RETRY_AFTER)
    handler.set_header("Cache-Control", "no-store")


def _error_raised(handler: RequestHandler, state: RequestState) -> None:
    """Called as the response finishes: if it is Tornado's error page for a
    tornsess error raised out of the handler (``sys.exc_info`` is set while
    ``send_error`` runs), mark the request accordingly."""
    exc = sys.exc_info()[1]
    if isinstance(exc, StoreUnavailable):
        state.failed = True
    elif isinstance(exc, SessionInterrupted):
        for manager, session in state.sessions.items():
            if not session._live():
                conflict(handler, manager.config.cookie, exc)
        handler.set_header("Cache-Control", "no-store")


def _replace_response(handler: RequestHandler, state: RequestState, status: int) -> None:
    """Finish the request with an error page instead of what the handler
    wrote (only the end of it, if the headers are already out)."""
    handler._finished = False
    if handler._headers_written:
        _really_finish(handler, state)
        return
    _unhook(handler, state)
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
        _really_finish(handler, state)
    else:
        _release(state)


# -- the hooks -----------------------------------------------------------------


def _add_vary(handler: RequestHandler) -> None:
    headers = handler._headers
    vary = headers.get_list("Vary")  # no KeyError raised and caught
    if not vary:
        headers["Vary"] = "Cookie"
    elif "cookie" not in ",".join(vary).lower():
        headers["Vary"] = f"{', '.join(vary)}, Cookie"


def _pending(state: RequestState) -> bool:
    for session in state.sessions.values():
        if session._pending():
            return True
    return False


async def commit_all(handler: RequestHandler, state: RequestState) -> None:
    """Store every session of the request before its headers go out; after
    that, changes are refused (the cookie could no longer follow).

    :raises tornsess.SessionInterrupted: a session was destroyed by a
        concurrent request (the others are still stored).
    :raises tornsess.StoreUnavailable: the store failed.
    """
    lost: SessionInterrupted | None = None
    for manager, session in list(state.sessions.items()):
        session._seal()
        try:
            await manager._commit(session)
        except StoreUnavailable as exc:
            manager._failed(session, exc)  # logs it and marks the request
            raise
        except SessionInterrupted as exc:
            manager._failed(session, exc)  # drops this request's cookie
            lost = exc
    if lost is not None:
        raise lost


def hooked_finish(
    handler: RequestHandler, state: RequestState, chunk: Any = None
) -> asyncio.Future[None]:
    """The handler's ``finish()`` while its sessions are open: store them,
    then finish (at once when nothing is to be stored)."""
    if state.done:  # a hook kept from before the response ended
        return state.real_finish(handler, chunk)  # type: ignore[no-any-return]
    if state.finishing:
        raise RuntimeError("finish() called twice")
    if sys.exc_info()[1] is not None:  # Tornado's error page for an exception
        _error_raised(handler, state)
    if state.failed:
        # A store call failed in this request: nothing is stored, no cookie.
        if handler.get_status() == 503 and not handler._headers_written:
            _unavailable_headers(handler)
        return _really_finish(handler, state, chunk)  # type: ignore[no-any-return]
    if not handler._headers_written:
        _add_vary(handler)
    if state.chain is None and not _pending(state):  # nothing to store
        return _really_finish(handler, state, chunk)  # type: ignore[no-any-return]
    if chunk is not None:
        handler.write(chunk)
    state.finishing = True
    # Look finished to Tornado (no writes, no auto-finish) while we store.
    handler._finished = True
    return _defer(handler, state, _real_finish)


def _real_finish(handler: RequestHandler, state: RequestState) -> Any:
    handler._finished = False
    return _really_finish(handler, state)


def hooked_flush(
    handler: RequestHandler, state: RequestState, include_footers: bool = False
) -> asyncio.Future[None]:
    """The handler's ``flush()`` while its sessions are open: the first
    flush sends the headers, so the sessions are stored before it."""
    if state.done:  # a hook kept from before the response ended
        return state.real_flush(handler, include_footers)  # type: ignore[no-any-return]

    def action(handler: RequestHandler, state: RequestState) -> asyncio.Future[None]:
        if state.sessions and not handler._headers_written:
            _add_vary(handler)
        return state.real_flush(handler, include_footers)  # type: ignore[no-any-return]

    if state.chain is None and (handler._headers_written or not _pending(state)):
        return action(handler, state)
    return _defer(handler, state, action)


def _defer(
    handler: RequestHandler,
    state: RequestState,
    action: Callable[[RequestHandler, RequestState], Any],
) -> asyncio.Future[None]:
    """Run *action* (the real finish or flush) once the sessions are stored,
    after any earlier deferred action."""
    coro = _commit_then(handler, state, action, state.chain)
    for manager in state.sessions:
        if not manager._at_once:
            # A store that waits runs its calls in a Task of their own, which
            # its timeouts (asyncio.timeout) may cancel.
            future: asyncio.Future[None] = asyncio.ensure_future(coro)
            break
    else:
        future = _run_now(coro)
    state.chain = future
    return future


async def _commit_then(
    handler: RequestHandler,
    state: RequestState,
    action: Callable[[RequestHandler, RequestState], Any],
    previous: asyncio.Future[None] | None,
) -> Any:
    if previous is not None:
        await asyncio.wait([previous])
    if state.done:
        return None
    try:
        await commit_all(handler, state)
    except StoreUnavailable:
        _replace_response(handler, state, 503)  # logged by the manager
        return None
    except SessionInterrupted:
        _replace_response(handler, state, 409)  # logged by conflict()
        return None
    except Exception:
        log.exception(
            "tornsess: storing the session of %s %s failed",
            handler.request.method,
            handler.request.path,
        )
        _replace_response(handler, state, 500)
        return None
    try:
        result = action(handler, state)
        if result is not None:
            await result
        return result
    except StreamClosedError:
        pass  # the client went away; nothing left to send
    except Exception:
        # Nobody awaits this task: log here rather than lose the error.
        log.exception(
            "tornsess: finishing %s %s failed",
            handler.request.method,
            handler.request.path,
        )
    return None


def _run_now(coro: Coroutine[Any, Any, Any]) -> asyncio.Future[None]:
    """Run *coro* at once, as far as it goes without waiting: a store that
    answers from memory (``answers_at_once``) commits without a Task or a
    trip through the event loop. Its result, if it is a Future (the real
    ``finish()``'s), is returned as it is; should *coro* wait after all, a
    Task takes it over from where it stopped."""
    try:
        waiting = coro.send(None)
    except StopIteration as stop:
        if isinstance(stop.value, asyncio.Future):
            return stop.value
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future
    except BaseException as exc:  # _commit_then logs its errors; this is defensive
        future = asyncio.get_running_loop().create_future()
        future.set_exception(exc)
        return future
    return asyncio.ensure_future(_Resumed(coro, waiting))


class _Resumed:
    """The rest of a coroutine that :func:`_run_now` started and that is
    waiting on *waiting* (what it yielded): awaiting this continues it, with
    the event loop's results and exceptions passed through, as a Task would."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self._coro = coro
        self._waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting = self._coro, self._waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # e.g. the Task was cancelled
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration:
                    return
