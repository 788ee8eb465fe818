"""RedisDatabase: sessions in Redis, shared by every process and host that
uses the same server, on redis-py's asyncio client."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

try:
    import redis
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.exceptions import (
        AskError,
        NoScriptError,
        RedisClusterException,
        RedisError,
        ResponseError,
    )

    from ._lane import Lane, lane_for, pack
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("RedisDatabase needs redis-py: pip install 'tornsess[redis]'") from exc

from ..config import BROWSER_MAX_AGE
from ..database import Op, Record
from ..errors import ConfigError, ImmutableEntry, SessionInterrupted, StoreUnavailable
from ..ids import is_valid_id, store_key

__all__ = ["RedisDatabase"]

T = TypeVar("T")

log = logging.getLogger("tornsess")

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_CLUSTER_HINT = (
    "use RedisDatabase('redis+cluster://HOST:PORT[,HOST:PORT...]') or "
    "RedisDatabase(url, cluster=True)"
)

# Hash fields: "v:<key>" values, "i:<key>" immutable marks, "f:<key>" flashes,
# "_c" created, "_a" last access, "_d" deadline, "_e" expires_at ("" = none).

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"""

_TOUCH = """
if redis.call('PEXPIREAT', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], '_a', ARGV[2], '_e', ARGV[3])
  return 1
end
return 0
"""

# Applies a request's operations atomically: a first pass checks them all
# against the stored state (as changed by the earlier operations), so an
# error writes nothing; the second pass writes.
_COMMIT = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {'gone', ''} end
local n = tonumber(ARGV[5])
local cleared, imm, val, out = false, {}, {}, {}
local function is_imm(k)
  if imm[k] ~= nil then return imm[k] end
  if cleared then return false end
  return redis.call('HEXISTS', key, 'i:' .. k) == 1
end
local function current(k)
  if val[k] ~= nil then return val[k] end
  if cleared then return false end
  local v = redis.call('HGET', key, 'v:' .. k)
  if not v then return false end
  return v
end
local function number(s)
  local c = string.sub(s, 1, 1)
  if (c == '-' or string.match(c, '%d')) and not string.find(s, '[xX]') then
    return tonumber(s)
  end
  return nil
end
local function integer(s) return string.match(s, '^%-?%d+$') ~= nil end
for i = 1, n do
  local kind, k, v = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  if kind == 'set' or kind == 'delete' or kind == 'incr' then
    if is_imm(k) then return {'immutable', k} end
  end
  if kind == 'set' then val[k] = v
  elseif kind == 'set_immutable' then val[k] = v; imm[k] = true
  elseif kind == 'delete' then val[k] = false
  elseif kind == 'clear' then cleared = true; imm = {}; val = {}
  elseif kind == 'incr' then
    local cur = current(k)
    local result
    if cur == false then
      result = v
    else
      local a, b = number(cur), number(v)
      if a == nil or b == nil then return {'type', k} end
      if integer(cur) and integer(v) then
        if #cur > 15 or #v > 15 then return {'bigint', k} end
        result = string.format('%.0f', a + b)
      else
        local r = a + b
        if r ~= r or r == math.huge or r == -math.huge then return {'type', k} end
        result = string.format('%.17g', r)
        if not string.find(result, '[%.eE]') then result = result .. '.0' end
      end
    end
    val[k] = result
    out[i] = result
  end
end
local function drop(prefix1, prefix2)
  local fields = redis.call('HKEYS', key)
  for _, f in ipairs(fields) do
    local p = string.sub(f, 1, 2)
    if p == prefix1 or p == prefix2 then redis.call('HDEL', key, f) end
  end
end
for i = 1, n do
  local kind, k, v = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  if kind == 'set' then redis.call('HSET', key, 'v:' .. k, v)
  elseif kind == 'set_immutable' then redis.call('HSET', key, 'v:' .. k, v, 'i:' .. k, '1')
  elseif kind == 'delete' then redis.call('HDEL', key, 'v:' .. k)
  elseif kind == 'clear' then drop('v:', 'i:')
  elseif kind == 'incr' then redis.call('HSET', key, 'v:' .. k, out[i])
  elseif kind == 'flash_set' then redis.call('HSET', key, 'f:' .. k, v)
  elseif kind == 'flash_delete' then redis.call('HDEL', key, 'f:' .. k)
  elseif kind == 'flash_clear' then drop('f:', 'f:')
  end
end
redis.call('HSET', key, '_a', ARGV[1], '_d', ARGV[2], '_e', ARGV[3])
redis.call('PEXPIREAT', key, ARGV[4])
return {'ok', ''}
"""

# A user's index: one hash, handle -> the session's key, whose TTL is kept
# at least as long as its newest session's (ARGV[3], milliseconds).
_INDEX_ADD = """
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local t = redis.call('PEXPIRETIME', KEYS[1])
if t < 0 or t < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
"""

_GLOB = re.compile(r"([*?\[\]\\])")


def _text(value: Any) -> str:
    # A field that is not UTF-8 was not written by this store; replacing the
    # bad bytes makes it invalid stored data, which the session ignores.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def _opt(value: str) -> float | None:
    return float(value) if value else None


class RedisDatabase:
    """Sessions in Redis or a Redis Cluster: one hash per session under
    ``<prefix>{<sha256 of the id>}`` (the braces are a Redis Cluster hash tag,
    so everything of a session lives in one slot).

    Give either *url* or a ready *client*:

    - ``redis://[:password@]host:port/db``, ``rediss://...`` (TLS) or
      ``unix:///path/to/socket``: one Redis server (with its replicas behind
      it, if any).
    - ``redis+cluster://[:password@]host:port[,host:port...]`` (or
      ``rediss+cluster://``): a Redis Cluster, found from any of the listed
      nodes. ``cluster=True`` with a ``redis://`` URL means the same.
    - *client*: a :class:`redis.asyncio.client.Redis` or a
      :class:`redis.asyncio.cluster.RedisCluster`.

    A URL that names one node of a cluster without the cluster form is
    refused at construction (the store asks the server, if it answers), since
    most requests would fail with ``MOVED``.

    Loading is one ``HGETALL``; a commit is one Lua script run by its SHA,
    which applies the request's operations atomically, only if the session
    still exists, with increments added in Redis. The key's TTL is the
    earlier of the absolute deadline and the idle timeout (and never more than
    400 days); the idle refresh is a ``PEXPIREAT`` plus one field, never a
    rewrite of the data. On a cluster, ``regenerate`` copies the session to
    its new key and deletes the old one (the two keys are in different slots,
    which no single command spans), and ``destroy_all`` scans every master.

    Every call is bounded by *timeout* seconds; a failed or timed-out call,
    whatever the client raises, becomes :class:`tornsess.StoreUnavailable` (a
    503 for the request), and the client reconnects by itself when Redis is
    back.

    Redis expires keys itself and does not know the session ids (only their
    hashes), so ``on_destroy`` callbacks do not run for sessions that Redis
    expires; they do run for destroys made through the manager.

    :raises tornsess.ConfigError: neither or both of *url* and *client*, a
        URL redis-py cannot parse, or a cluster node behind a plain URL.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | RedisCluster | None = None,
        cluster: bool = False,
        prefix: str = "tornsess:",
        timeout: float = 2.0,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigError("url", "give either url or client")
        if not timeout > 0:
            raise ConfigError("timeout", f"must be positive, got {timeout!r}")
        if not isinstance(prefix, str):
            raise ConfigError("prefix", "must be a str")
        if client is None:
            assert url is not None
            client, cluster = _client_from_url(url, cluster, timeout)
            self._owns_client = True
        else:
            cluster = isinstance(client, RedisCluster)
            self._owns_client = False
        self.client: Any = client
        self.cluster = cluster
        self.prefix = prefix
        self.timeout = timeout
        self._create = client.register_script(_CREATE)
        self._touch = client.register_script(_TOUCH)
        self._commit = client.register_script(_COMMIT)
        self._index_add = client.register_script(_INDEX_ADD)
        # The request path's commands (load, create, commit, touch) take the
        # short way on a single server whose client this store built (see
        # tornsess.sessiondb._lane); a client given by the application, and
        # a cluster, keep the client's own path.
        self._lane: Lane | None = (
            lane_for(client, timeout) if self._owns_client and not cluster else None
        )
        # On a cluster, a session's old and new keys are in different slots.
        self._cross_slot = cluster
        # redis-py's asyncio RedisCluster breaks when many coroutines make its
        # first calls at once (each starts the topology discovery; connections
        # are closed under the others: AttributeError on a None writer), so
        # the first call discovers the topology alone.
        self._ready = not cluster
        self._ready_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"RedisDatabase(prefix={self.prefix!r})"

    def key(self, session_id: str) -> str:
        """The Redis key of a session."""
        return f"{self.prefix}{{{store_key(session_id)}}}"

    def index_key(self, tag: str) -> str:
        """The Redis key of a user's index (in a cluster slot of its own)."""
        return f"{self.prefix}u:{{{tag}}}"

    async def _run(
        self,
        call: Awaitable[T],
        *,
        keep: type[BaseException] | tuple[type[BaseException], ...] | None = None,
        bounded: bool = True,
    ) -> T:
        """Await one Redis call within the timeout; failures become
        StoreUnavailable, except those of type *keep*, which the caller
        interprets. A call that bounds itself (the lane's, by its watchdog)
        passes ``bounded=False``."""
        if not self._ready:
            await self._discover(call)
        try:
            return await (_bounded(call, self.timeout) if bounded else call)
        except asyncio.TimeoutError:
            raise StoreUnavailable(f"redis did not answer within {self.timeout:g} s") from None
        except (RedisError, RedisClusterException, OSError) as exc:
            if keep is not None and isinstance(exc, keep):
                raise
            raise self._unavailable(exc) from None

    async def _lane_call(self, packed: bytes, *, idempotent: bool) -> Any:
        """:meth:`_run` for a command on the lane; ``NoScriptError`` is
        left to :meth:`_script`."""
        assert self._lane is not None
        call = self._lane.call(packed, idempotent=idempotent)
        return await self._run(call, keep=NoScriptError, bounded=False)

    async def _script(
        self, script: Any, key: str, args: list[Any], *, idempotent: bool = False
    ) -> Any:
        """Run one of the store's Lua scripts on *key*: by its SHA, and by
        its text if the server does not have it (after a restart)."""
        if self._lane is None:
            return await self._run(script(keys=[key], args=args))
        try:
            return await self._lane_call(
                pack("EVALSHA", script.sha, 1, key, *args), idempotent=idempotent
            )
        except NoScriptError:
            return await self._lane_call(
                pack("EVAL", script.script, 1, key, *args), idempotent=idempotent
            )

    async def _discover(self, call: Awaitable[Any]) -> None:
        """Discover the cluster's topology once, before the first call."""
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        try:
            async with self._ready_lock:
                if not self._ready:
                    await asyncio.wait_for(self.client.initialize(), self.timeout)
                    self._ready = True
        except asyncio.TimeoutError:
            _discard(call)
            raise StoreUnavailable(f"redis did not answer within {self.timeout:g} s") from None
        except (RedisError, RedisClusterException, OSError) as exc:
            _discard(call)
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        if isinstance(exc, AskError) and not self.cluster:
            return StoreUnavailable(
                f"redis: {type(exc).__name__}: {exc}: the server is a Redis Cluster "
                f"node; {_CLUSTER_HINT}"
            )
        return StoreUnavailable(f"redis: {type(exc).__name__}: {exc}")

    @staticmethod
    def _pexpireat(expires_at: float | None) -> int:
        limit = time.time() + BROWSER_MAX_AGE
        return int(1000 * (limit if expires_at is None else min(expires_at, limit)))

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        """Accepted for the protocol; Redis expirations are not reported."""

    async def load(self, session_id: str) -> Record | None:
        if not is_valid_id(session_id):
            return None
        key = self.key(session_id)
        if self._lane is None:
            return _record(await self._run(self.client.hgetall(key)))
        return _record(await self._lane_call(pack("HGETALL", key), idempotent=True))

    async def create(self, session_id: str, record: Record) -> bool:
        if not is_valid_id(session_id):
            return False
        args: list[Any] = [self._pexpireat(record.expires_at)]
        args += ["_c", repr(record.created), "_a", repr(record.accessed)]
        args += ["_d", _num(record.deadline), "_e", _num(record.expires_at)]
        for name, value in record.values.items():
            args += [f"v:{name}", value]
        for name in record.immutable:
            args += [f"i:{name}", "1"]
        for name, value in record.flashes.items():
            args += [f"f:{name}", value]
        return bool(await self._script(self._create, self.key(session_id), args))

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        if not is_valid_id(session_id):
            raise SessionInterrupted("not a session id")
        args: list[Any] = [
            repr(accessed),
            _num(deadline),
            _num(expires_at),
            self._pexpireat(expires_at),
            len(ops),
        ]
        for op in ops:
            args += [op.kind, op.key, op.value]
        result = await self._script(self._commit, self.key(session_id), args)
        status, name = (x.decode() if isinstance(x, bytes) else x for x in result)
        if status == "ok":
            return
        if status == "gone":
            raise SessionInterrupted("the session was destroyed or expired")
        if status == "immutable":
            raise ImmutableEntry(name)
        if status == "bigint":
            raise TypeError(f"cannot increment {name!r} in Redis beyond 15 digits")
        raise TypeError(f"cannot increment {name!r}: it holds a non-number")

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        if not is_valid_id(session_id):
            return False
        args = [self._pexpireat(expires_at), repr(accessed), _num(expires_at)]
        return bool(await self._script(self._touch, self.key(session_id), args, idempotent=True))

    async def rename(self, old_id: str, new_id: str) -> bool:
        """``RENAMENX``, atomic. Under Redis Cluster the two keys live in
        different slots, which no single command can span: then the session
        is copied to the new key and the old key deleted (if a destroy wins
        the race, the copy is deleted too and the rename fails)."""
        if not is_valid_id(old_id) or not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old, new = self.key(old_id), self.key(new_id)
        if not self._cross_slot:
            try:
                return bool(
                    await self._run(
                        self.client.renamenx(old, new),
                        keep=(ResponseError, RedisClusterException),
                    )
                )
            except (ResponseError, RedisClusterException) as exc:
                message = str(exc).lower()
                if "no such key" in message:
                    raise SessionInterrupted("the session was destroyed or expired") from None
                if "crossslot" not in message and "same key slot" not in message:
                    raise self._unavailable(exc) from None
                self._cross_slot = True
        return await self._copy_rename(old, new)

    async def _copy_rename(self, old: str, new: str) -> bool:
        raw: dict[Any, Any] = await self._run(self.client.hgetall(old))
        if not raw:
            raise SessionInterrupted("the session was destroyed or expired")
        fields = {_text(k): _text(v) for k, v in raw.items()}
        args: list[Any] = [self._pexpireat(_opt(fields.get("_e", "")))]
        for name, value in fields.items():
            args += [name, value]
        if not await self._run(self._create(keys=[new], args=args)):
            return False
        if not await self._run(self.client.delete(old)):
            await self._run(self.client.delete(new))
            raise SessionInterrupted("the session was destroyed during its rename")
        return True

    async def exists(self, session_id: str) -> bool:
        if not is_valid_id(session_id):
            return False
        return bool(await self._run(self.client.exists(self.key(session_id))))

    async def destroy(self, session_id: str) -> bool:
        if not is_valid_id(session_id):
            return False
        return bool(await self._run(self.client.delete(self.key(session_id))))

    async def destroy_all(self) -> list[str]:
        """Delete every key under the prefix with ``SCAN`` (never ``KEYS``);
        glob characters in the prefix are escaped; on a cluster, every master
        is scanned. Returns ``[]``: Redis holds only hashes of the ids."""
        escaped = _GLOB.sub(r"\\\1", self.prefix)

        async def run() -> None:
            for pattern in (escaped + "{*}", escaped + "u:{*}"):  # sessions, then indexes
                batch: list[Any] = []
                async for key in self.client.scan_iter(match=pattern, count=500):
                    batch.append(key)
                    if len(batch) >= 500:
                        await self.client.unlink(*batch)
                        batch = []
                if batch:
                    await self.client.unlink(*batch)

        await self._run(run())
        return []

    # -- the user index -------------------------------------------------------------
    # On a cluster a user's index is in a slot of its own, apart from its
    # sessions: adding, pruning and destroying are separate commands, each
    # safe to repeat, and a reader prunes entries whose session is gone.

    async def index_add(
        self, tag: str, handle: str, session_id: str, expires_at: float | None
    ) -> None:
        await self._run(
            self._index_add(
                keys=[self.index_key(tag)],
                args=[handle, store_key(session_id), self._pexpireat(expires_at)],
            )
        )

    async def index_remove(self, tag: str, handle: str) -> None:
        await self._run(self.client.hdel(self.index_key(tag), handle))

    async def index_touch(self, tag: str, expires_at: float | None) -> None:
        await self._run(
            self._index_add(keys=[self.index_key(tag)], args=["", "", self._pexpireat(expires_at)])
        )

    async def index_sessions(self, tag: str) -> list[tuple[str, Record]]:
        index = self.index_key(tag)
        entries: dict[Any, Any] = await self._run(self.client.hgetall(index))
        found: list[tuple[str, Record]] = []
        dead: list[str] = []
        for raw_handle, raw_key in entries.items():
            handle, key = _text(raw_handle), _text(raw_key)
            record = _record(await self._run(self.client.hgetall(f"{self.prefix}{{{key}}}")))
            if record is None:
                dead.append(handle)
            else:
                found.append((handle, record))
        if dead:
            await self._run(self.client.hdel(index, *dead))
        return found

    async def index_destroy(self, tag: str, handle: str) -> tuple[bool, str | None]:
        index = self.index_key(tag)
        key = await self._run(self.client.hget(index, handle))
        if key is None:
            return False, None
        existed = await self._run(self.client.delete(f"{self.prefix}{{{_text(key)}}}"))
        await self._run(self.client.hdel(index, handle))
        return bool(existed), None

    async def close(self) -> None:
        """Close the connection pool if this store created the client."""
        if self._lane is not None:
            await self._lane.close()
        if self._owns_client:
            await self.client.aclose()


if sys.version_info >= (3, 11):

    async def _bounded(call: Awaitable[T], seconds: float) -> T:
        """*call*, cancelled after *seconds* (``asyncio.timeout``: no Task of
        its own, unlike ``wait_for`` before Python 3.12)."""
        async with asyncio.timeout(seconds):
            return await call

else:  # pragma: no cover - Python 3.10
    _bounded = asyncio.wait_for


def _record(raw: dict[Any, Any] | list[Any]) -> Record | None:
    """A session's hash (a dict, or ``HGETALL``'s flat list of fields and
    values) as a Record, or ``None`` (missing, expired, or not a session this
    store wrote)."""
    if not raw:
        return None
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=False))
    fields = {_text(k): _text(v) for k, v in raw.items()}
    values: dict[str, str] = {}
    flashes: dict[str, str] = {}
    immutable: set[str] = set()
    for name, value in fields.items():
        kind, rest = name[:2], name[2:]
        if kind == "v:":
            values[rest] = value
        elif kind == "f:":
            flashes[rest] = value
        elif kind == "i:":
            immutable.add(rest)
    try:
        created = float(fields["_c"])
        accessed = float(fields["_a"])
        deadline = _opt(fields.get("_d", ""))
        expires_at = _opt(fields.get("_e", ""))
    except (KeyError, ValueError):
        return None  # not a session this store wrote
    if expires_at is not None and expires_at <= time.time():
        return None
    return Record(values, frozenset(immutable), flashes, created, accessed, deadline, expires_at)


def _discard(call: Awaitable[Any]) -> None:
    """Close a call that will not be awaited (no "never awaited" warning)."""
    close = getattr(call, "close", None)
    if close is not None:
        close()


def _client_from_url(url: str, cluster: bool, timeout: float) -> tuple[Any, bool]:
    """The client a URL names, and whether it is a cluster client."""
    if not isinstance(url, str):
        raise ConfigError("url", f"must be a str, got {type(url).__name__}")
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme)
    try:
        if scheme is None and not cluster:
            _refuse_cluster_node(url, timeout)
            return aioredis.Redis.from_url(url, health_check_interval=30, **options), False
        if scheme is None and parts.scheme not in ("redis", "rediss"):
            raise ConfigError("url", f"a cluster needs a redis:// or rediss:// URL, got {url!r}")
        netloc = parts.netloc
        credentials, _, hosts = netloc.rpartition("@")
        nodes = [node for node in hosts.split(",") if node]
        if not nodes:
            raise ConfigError("url", f"no cluster node in {url!r}")
        first = (credentials + "@" if credentials else "") + nodes[0]
        single = urlunsplit((scheme or parts.scheme, first, parts.path, parts.query, ""))
        startup = [ClusterNode(*_host_port(node)) for node in nodes[1:]]
        return RedisCluster.from_url(single, startup_nodes=startup or None, **options), True
    except ValueError as exc:
        raise ConfigError("url", str(exc)) from None


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("url", f"a cluster node must be HOST:PORT, got {node!r}")
    return host.strip("[]"), int(port)


def _refuse_cluster_node(url: str, timeout: float) -> None:
    """Ask the server behind a plain URL whether it is a cluster node; raise
    ConfigError if it is. A server that does not answer is not judged (it
    may be down at start-up; requests then get 503 until it is back)."""
    probe = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        info = probe.info("cluster")
    except (RedisError, OSError) as exc:
        log.debug("tornsess: could not ask %s whether it is a cluster node: %s", url, exc)
        return
    finally:
        probe.close()
    if info.get("cluster_enabled") in (1, "1"):
        raise ConfigError("url", f"{url} is a Redis Cluster node; {_CLUSTER_HINT}")
