"""The short way to Redis for the request path: redis-py's own connections
and reply parser, without the client's layers around them.

A command through ``redis.asyncio.Redis`` passes the connection pool, the
retry wrapper, the event dispatcher, the observability hooks and a timeout
context on every call: about 325,000 instructions for an ``HGETALL`` on
CPython 3.11, where writing the command and parsing its reply take about
75,000. :class:`Lane` keeps idle connections of its own (made by the
client's pool, so with its host, credentials, database and TLS settings),
writes the packed command, and reads the reply with the connection's parser.

What the skipped layers did, it does itself:

- **Timeouts**: one watchdog timer per lane, not one per call, aborts a
  connection whose reply is later than the store's timeout.
- **Health checks**: an idle connection that Redis has closed (its ``timeout``
  setting, ``CLIENT KILL``, a restart) is dropped before use, and one idle for
  longer than :data:`HEALTH_CHECK_INTERVAL` is checked with ``PING`` first,
  as redis-py does.
- **Retries**: a read (``idempotent=True``) that fails on a connection taken
  from the idle list (Redis may have closed it) is tried once more on a new
  connection. A write is never sent twice: its fate is unknown once its
  connection fails, and it fails (the request gets 503).
- **Errors**: an error reply is raised as redis-py raises it; any failure of
  the connection closes it and is raised as :class:`redis.ConnectionError`
  or :class:`asyncio.TimeoutError` for :class:`RedisDatabase
  <tornsess.sessiondb.RedisDatabase>` to turn into ``StoreUnavailable``.

:func:`lane_for` gives a lane only for a client the store built itself from
a single-server URL, and only if the connection has the parts this module
uses (redis-py 5 to 8); otherwise the store keeps the client's own path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError, ResponseError

__all__ = ["HEALTH_CHECK_INTERVAL", "Lane", "lane_for", "pack"]

log = logging.getLogger("tornsess")

HEALTH_CHECK_INTERVAL = 30.0
"""Seconds of idleness after which a connection is pinged before use."""


class Lane:
    """Commands on connections of our own from *pool*, each bounded by
    *timeout* seconds (connecting included)."""

    def __init__(self, pool: ConnectionPool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._idle: list[tuple[AbstractConnection, float]] = []  # (conn, last use)
        self._busy: dict[AbstractConnection, float] = {}  # conn -> deadline
        self._expired: set[AbstractConnection] = set()
        self._watchdog: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # of the above

    async def call(self, packed: bytes, *, idempotent: bool) -> Any:
        """Send one packed command and return its reply (an error reply is
        raised)."""
        conn, reused = await self._take()
        try:
            reply = await self._exchange(conn, packed)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            if not (idempotent and reused):
                raise
            conn, _ = await self._take(fresh=True)
            reply = await self._exchange(conn, packed)
        self._idle.append((conn, time.monotonic()))
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def _take(self, fresh: bool = False) -> tuple[AbstractConnection, bool]:
        """An idle connection (pinged first if it idled long), or a new one;
        whether it was idle before."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # First use, or the store moved to another event loop: the old
            # loop's connections and watchdog cannot serve this one.
            self._loop, self._idle, self._watchdog = loop, [], None
        idle = self._idle
        while idle and not fresh:
            conn, used = idle.pop()
            reader = conn._reader
            if reader is None or reader.at_eof():  # Redis closed it while idle
                await _close(conn)
                continue
            if time.monotonic() - used < HEALTH_CHECK_INTERVAL:
                return conn, True
            try:
                if not isinstance(await self._exchange(conn, _PING), ResponseError):
                    return conn, True
            except (ConnectionError, OSError, asyncio.TimeoutError):
                continue
            await _close(conn)
        conn = self._pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await asyncio.wait_for(conn.connect(), self._timeout)
        except BaseException:
            await _close(conn)
            raise
        return conn, False

    async def _exchange(self, conn: AbstractConnection, packed: bytes) -> Any:
        """Write *packed* on *conn* and read its reply (an error reply is
        returned, not raised); a failed connection is closed."""
        self._busy[conn] = time.monotonic() + self._timeout
        if self._watchdog is None:
            self._arm()
        try:
            conn._writer.write(packed)  # type: ignore[union-attr]
            reply = await conn._parser.read_response()  # type: ignore[attr-defined]
        except BaseException as exc:
            del self._busy[conn]
            await _close(conn)
            if conn in self._expired:
                self._expired.discard(conn)
                raise asyncio.TimeoutError() from None
            if isinstance(exc, (asyncio.CancelledError, ConnectionError, OSError)):
                raise
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from None
        del self._busy[conn]
        return reply

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(max(self._timeout / 4, 0.01), self._watch)

    def _watch(self) -> None:
        """Abort every connection whose reply is overdue; re-arm while any
        call is in flight."""
        self._watchdog = None
        now = time.monotonic()
        for conn, deadline in list(self._busy.items()):
            if deadline <= now and conn not in self._expired:
                self._expired.add(conn)
                transport = getattr(conn._writer, "transport", None)
                if transport is not None:
                    transport.abort()  # the pending read fails at once
        if self._busy:
            self._arm()

    async def close(self) -> None:
        """Close the idle connections (calls in flight close theirs)."""
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await _close(conn)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None


_PING = b"*1\r\n$4\r\nPING\r\n"


async def _close(conn: AbstractConnection) -> None:
    try:
        await conn.disconnect(nowait=True)
    except Exception as exc:  # pragma: no cover - closing a broken connection
        log.debug("tornsess: closing a redis connection: %s", exc)


def lane_for(client: Any, timeout: float) -> Lane | None:
    """A lane for *client* (a ``redis.asyncio.Redis``), or ``None`` if its
    connections lack the parts the lane uses."""
    pool = getattr(client, "connection_pool", None)
    if not isinstance(pool, ConnectionPool):
        return None
    try:
        probe = pool.make_connection()  # type: ignore[no-untyped-call]
    except Exception:  # pragma: no cover - an exotic pool
        return None
    parser = getattr(probe, "_parser", None)
    if not hasattr(probe, "_writer") or not callable(getattr(parser, "read_response", None)):
        return None  # pragma: no cover - another redis-py
    return Lane(pool, timeout)


def pack(*args: str | bytes | int) -> bytes:
    """One command in RESP, as redis-py would send it."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int):
            data = b"%d" % arg
        else:
            data = arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)
