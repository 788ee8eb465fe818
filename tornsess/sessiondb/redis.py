"""RedisDatabase: sessions in Redis, shared by every process and host that
uses the same server, on redis-py's asyncio client (its public API only)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import os
import re
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import redis
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.client import NEVER_DECODE
    from redis.exceptions import AskError, NoScriptError, RedisClusterException, ResponseError
    from redis.retry import Retry as SyncRetry
except ImportError as _missing:  # pragma: no cover - depends on the install
    raise ImportError(
        "RedisDatabase needs redis-py: install tornsess with its redis extra "
        "(in a clone: pip install -e '.[redis]'; make demo does it)"
    ) from _missing

from ..config import BROWSER_MAX_AGE
from ..database import Binding, Op, Record
from ..errors import (
    ConfigError,
    ImmutableEntry,
    SessionInterrupted,
    SessionMoved,
    StoreUnavailable,
)
from ..ids import is_valid_id, store_key

__all__ = ["RedisDatabase"]

T = TypeVar("T")

log: logging.Logger = logging.getLogger("tornsess")

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_CLUSTER_HINT = (
    "use RedisDatabase('redis+cluster://HOST:PORT[,HOST:PORT...]') or "
    "RedisDatabase(url, cluster=True)"
)


class _Script:
    """A Lua script, run by its SHA (``EVALSHA``) and by its text (``EVAL``,
    which also caches it) when the server does not have it: after a restart
    or ``SCRIPT FLUSH``. Holds no client: it runs on the one it is given."""

    __slots__ = ("text", "sha")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, client: Any, keys: Sequence[str], args: Sequence[Any] = (), **options: Any
    ) -> Any:
        try:
            return await client.execute_command(
                "EVALSHA", self.sha, len(keys), *keys, *args, **options
            )
        except NoScriptError:
            return await client.execute_command(
                "EVAL", self.text, len(keys), *keys, *args, **options
            )


# Read a reply without decoding it, whatever the client's decode_responses:
# redis-py's public execute_command option (what its own SYNC and DUMP use).
_RAW: dict[str, Any] = {NEVER_DECODE: True}

# Hash fields: "v:<key>" values, "i:<key>" immutable marks, "f:<key>" flashes,
# "_c" created, "_a" last access, "_d" deadline, "_e" expires_at ("" = none),
# "_r" when the id was issued (absent: "_c").
# A key that holds another type than a hash is not a session: the scripts
# treat it as gone (``TYPE`` answers a status reply, a table in Lua), except
# an alias: a renewed session's old key, for its grace window, is a string
# "tornsess-alias:<store key of the new id>:<sealed text>" (PEXPIREAT at
# the window's end), so the hot scripts, which test for a hash, never take
# it for a session, and look at it only in their branch for a missing one.
_ALIAS_PREFIX = "tornsess-alias:"

_ALIAS = """
local function alias_of(key)
  if redis.call('TYPE', key)['ok'] ~= 'string' then return nil end
  local target, sealed = string.match(
    redis.call('GET', key), '^tornsess%-alias:(%x+):(.+)$')
  if target == nil or #target ~= 64 then return nil end
  return target, sealed
end
-- A script's answer for a key that holds no session: {moved, sealed} for
-- a renewed session's alias, else {gone, ''}.
local function moved_or_gone(key, moved, gone)
  local _, sealed = alias_of(key)
  if sealed then return {moved, sealed} end
  return {gone, ''}
end
"""

# A session's fields and a fingerprint of them (SHA-1 of the sorted pairs,
# each part prefixed by its length): on a cluster, a renewal copies a
# session to its new key and then turns the old key into an alias only if
# the fingerprint is unchanged, so that no write made between is lost.
_FINGERPRINT = """
local function fingerprint(key)
  local flat = redis.call('HGETALL', key)
  local pairs_ = {}
  for i = 1, #flat, 2 do pairs_[#pairs_ + 1] = {flat[i], flat[i + 1]} end
  table.sort(pairs_, function(a, b) return a[1] < b[1] end)
  local parts = {}
  for _, p in ipairs(pairs_) do
    parts[#parts + 1] = #p[1] .. ':' .. p[1] .. #p[2] .. ':' .. p[2]
  end
  return redis.sha1hex(table.concat(parts)), flat
end
"""

_CREATE = _Script(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"""
)

# A logged-in session's user index must live at least as long as it does:
# every script that moves a session's expiry moves its index's too, when the
# store is a single server (ARGV holds the key prefix; on a cluster, where
# the index is in another slot, the prefix is empty and the store extends
# the index in a second call, with the tag the script answers).
_EXTEND_INDEX = """
local function extend_index(key, prefix, expiry)
  local tag = redis.call('HGET', key, '_t')
  if not tag then return '' end
  if prefix ~= '' then
    local index = prefix .. 'u:{' .. tag .. '}'
    local t = redis.call('PEXPIRETIME', index)
    if t >= 0 and t < tonumber(expiry) then redis.call('PEXPIREAT', index, expiry) end
  end
  return tag
end
"""

# {1, tag}; {0, ''}: no session; {2, sealed}: a renewed session's old key.
_TOUCH = _Script(
    _EXTEND_INDEX
    + _ALIAS
    + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return moved_or_gone(KEYS[1], 2, 0)
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], '_a', ARGV[2], '_e', ARGV[3])
return {1, extend_index(KEYS[1], ARGV[4], ARGV[1])}
"""
)

# A logged-in session's index entry follows it in the same step as a
# rename or a renewal (single server; ARGV: the key prefix, the old and the
# new store key), so that no reader or revoke ever finds the entry pointing
# at a key that is gone; an entry that names another key is left alone.
_MOVE_ENTRY = """
local function move_entry(new_key, prefix, old_hash, new_hash)
  if prefix == '' then return end
  local tag, text = redis.call('HGET', new_key, '_t'), redis.call('HGET', new_key, '_b')
  if tag and text then
    local ok, binding = pcall(cjson.decode, text)
    if ok and type(binding) == 'table' and type(binding['handle']) == 'string' then
      local index = prefix .. 'u:{' .. tag .. '}'
      if redis.call('TYPE', index)['ok'] == 'hash'
          and redis.call('HGET', index, binding['handle']) == old_hash then
        redis.call('HSET', index, binding['handle'], new_hash)
      end
    end
  end
end
"""

# {-1, ''}: the old key holds no session; {-2, sealed}: it is an alias;
# otherwise RENAMENX's 0 (the new key is taken) or 1, with "_r" set to
# ARGV[4].
_RENAME = _Script(
    _ALIAS
    + _MOVE_ENTRY
    + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return moved_or_gone(KEYS[1], -2, -1)
end
local moved = redis.call('RENAMENX', KEYS[1], KEYS[2])
if moved == 1 then
  redis.call('HSET', KEYS[2], '_r', ARGV[4])
  move_entry(KEYS[2], ARGV[1], ARGV[2], ARGV[3])
end
return {moved, ''}
"""
)

# A renewal on one server, atomic (KEYS: the old and the new key; ARGV: the
# key prefix, the old and the new store key, when the new id was issued,
# the alias's text or "" for none, the alias's end in milliseconds): the
# session moves with its TTL, its index entry follows, and the old key
# becomes the alias. {'ok'}, {'taken'}, {'gone'} or {'moved', sealed}.
_RENEW = _Script(
    _ALIAS
    + _MOVE_ENTRY
    + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return moved_or_gone(KEYS[1], 'moved', 'gone')
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'taken', ''} end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], '_r', ARGV[4])
move_entry(KEYS[2], ARGV[1], ARGV[2], ARGV[3])
if ARGV[5] ~= '' then redis.call('SET', KEYS[1], ARGV[5], 'PXAT', ARGV[6]) end
return {'ok', ''}
"""
)

# On a cluster, where the old and the new key are in different slots, a
# renewal (or a rename) copies the session and then converts the old key:
# _SNAPSHOT reads it ({'hash', fingerprint, fields, PEXPIRETIME},
# {'moved', sealed} or {'gone'}); _CONVERT (ARGV: the fingerprint, the
# alias's text or "" to delete the key, the alias's end in milliseconds)
# turns it into the alias, or deletes it, only if the fingerprint still
# matches: {'ok'}, {'changed'}, {'moved', sealed} or {'gone'}.
_SNAPSHOT = _Script(
    _ALIAS
    + _FINGERPRINT
    + """
if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  local digest, flat = fingerprint(KEYS[1])
  return {'hash', digest, flat, redis.call('PEXPIRETIME', KEYS[1])}
end
return moved_or_gone(KEYS[1], 'moved', 'gone')
"""
)

_CONVERT = _Script(
    _ALIAS
    + _FINGERPRINT
    + """
if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  if fingerprint(KEYS[1]) ~= ARGV[1] then return {'changed', ''} end
  redis.call('DEL', KEYS[1])
  if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3]) end
  return {'ok', ''}
end
return moved_or_gone(KEYS[1], 'moved', 'gone')
"""
)

# A load that met a key of another type than a hash, on one server (ARGV[1]
# the key prefix): {'alias', the renewed session's fields, sealed}, or
# {'hash', fields} / {'none'} if the key changed since, or {'other'}: a key
# this store did not write. One level only: an alias of an alias is none.
_LOAD_ALIAS = _Script(
    _ALIAS
    + """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'hash' then return {'hash', redis.call('HGETALL', KEYS[1])} end
if kind == 'none' then return {'none'} end
local target, sealed = alias_of(KEYS[1])
if target == nil then return {'other'} end
local key = ARGV[1] .. '{' .. target .. '}'
if redis.call('TYPE', key)['ok'] ~= 'hash' then return {'none'} end
return {'alias', redis.call('HGETALL', key), sealed}
"""
)

# Deletes a session's key ({1 or 0, '', ''}), unless it is an alias, which
# is kept: {2, sealed, the store key it names}.
_DESTROY = _Script(
    _ALIAS
    + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  local target, sealed = alias_of(KEYS[1])
  if target then return {2, sealed, target} end
end
return {redis.call('DEL', KEYS[1]), '', ''}
"""
)

# Deletes an alias (and nothing else: the key may be a session again).
_DESTROY_ALIAS = _Script(
    _ALIAS
    + """
if alias_of(KEYS[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""
)

# Re-points an index entry (KEYS[1] the index; ARGV: the handle, the store
# key it must still name, the new one): {1, ''}, or {0, what it names now}
# ('' for nothing).
_INDEX_REPOINT = _Script(
    """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return {0, ''} end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return {0, ''} end
if current ~= ARGV[2] then return {0, current} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return {1, ''}
"""
)

# Index readers follow aliases, a few levels deep (renewals within one grace
# window), so that a renewal is never taken for a dead session: an entry is
# pruned only when what it names is gone.
_ALIAS_LEVELS = 8

# A user's index and the sessions it names, read in one step (KEYS[1] the
# index; ARGV[1] the key prefix): since a rename moves its entry in the same
# step, a live session is never missed by a list that a rename overtakes.
# An entry that names a renewed session's alias is re-pointed at the
# session (ARGV[2]: how many aliases to follow at most).
_INDEX_READ = _Script(
    _ALIAS
    + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return {} end
local entries = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #entries, 2 do
  local hash, fields, aliased = entries[i + 1], {}, false
  for _ = 0, tonumber(ARGV[2]) do
    local key = ARGV[1] .. '{' .. hash .. '}'
    if redis.call('TYPE', key)['ok'] == 'hash' then
      fields = redis.call('HGETALL', key)
      break
    end
    local target = alias_of(key)
    if target == nil then break end
    hash, aliased = target, true
  end
  if aliased and #fields > 0 then redis.call('HSET', KEYS[1], entries[i], hash) end
  out[#out + 1] = {entries[i], entries[i + 1], fields}
end
return out
"""
)

# Destroys the session an index entry names and drops the entry, in one step
# (KEYS[1] the index; ARGV: the handle, the key prefix, how many aliases to
# follow at most): a concurrent rename or renewal moves the entry with the
# session, so the revoke finds where it is now; an entry that names a
# renewed session's alias destroys the session and the alias. -1: no such
# entry.
_INDEX_DESTROY = _Script(
    _ALIAS
    + """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return -1 end
local hash = redis.call('HGET', KEYS[1], ARGV[1])
if not hash then return -1 end
local existed = 0
for _ = 0, tonumber(ARGV[3]) do
  local key = ARGV[2] .. '{' .. hash .. '}'
  local target = alias_of(key)
  if target == nil then
    existed = redis.call('DEL', key)
    break
  end
  redis.call('DEL', key)
  hash = target
end
redis.call('HDEL', KEYS[1], ARGV[1])
return existed
"""
)

# Applies a request's operations atomically: a first pass checks them all
# against the stored state (as changed by the earlier operations), so an
# error writes nothing; the second pass writes. A key of another type is gone,
# or a renewed session's alias ({'moved', sealed}).
_COMMIT = _Script(
    _EXTEND_INDEX
    + _ALIAS
    + """
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] ~= 'hash' then
  return moved_or_gone(key, 'moved', 'gone')
end
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
  local kind, k, v = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]
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
  local kind, k, v = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]
  if kind == 'set' then redis.call('HSET', key, 'v:' .. k, v)
  elseif kind == 'set_immutable' then redis.call('HSET', key, 'v:' .. k, v, 'i:' .. k, '1')
  elseif kind == 'delete' then redis.call('HDEL', key, 'v:' .. k)
  elseif kind == 'clear' then drop('v:', 'i:')
  elseif kind == 'incr' then redis.call('HSET', key, 'v:' .. k, out[i])
  elseif kind == 'flash_set' then redis.call('HSET', key, 'f:' .. k, v)
  elseif kind == 'flash_delete' then redis.call('HDEL', key, 'f:' .. k)
  elseif kind == 'flash_clear' then drop('f:', 'f:')
  elseif kind == 'bind' then
    if v == '' then redis.call('HDEL', key, '_b', '_t')
    else redis.call('HSET', key, '_b', v, '_t', k) end
  end
end
redis.call('HSET', key, '_a', ARGV[1], '_d', ARGV[2], '_e', ARGV[3])
redis.call('PEXPIREAT', key, ARGV[4])
return {'ok', extend_index(key, ARGV[6], ARGV[4])}
"""
)

# A user's index: one hash, handle -> the session's key, whose TTL is kept
# at least as long as its newest session's (ARGV[3], milliseconds). An index
# key of another type is replaced (+2 in the answer): an index is rebuilt by
# its user's logins, and the sessions it listed are left alone.
_INDEX_ADD = _Script(
    """
local replaced = 0
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' and kind ~= 'none' then
  redis.call('DEL', KEYS[1])
  replaced = 2
end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return replaced end
local t = redis.call('PEXPIRETIME', KEYS[1])
if t < 0 or t < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1 + replaced
"""
)

# Drops the index entries (ARGV: handle, store key, ...) that still point at
# the key read as dead: an entry that a concurrent regenerate re-pointed at
# the session's new key stays.
_INDEX_PRUNE = _Script(
    """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
local dropped = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    dropped = dropped + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return dropped
"""
)

_GLOB = re.compile(r"([*?\[\]\\])")
_ALIAS_RE = re.compile(re.escape(_ALIAS_PREFIX) + r"([0-9a-fA-F]{64}):(.+)", re.S)
# How many times a cross-slot move copies a session that keeps changing.
_COPY_ATTEMPTS = 4


def _quiet(cls: type) -> dict[str, Any]:
    """The argument that turns maintenance notifications off, for a client
    the store builds with *cls*: with them on (the default under RESP3,
    itself redis-py 8's default protocol), the pool skips its check that a
    connection holds no unread reply before it reuses it, and a stray reply
    could answer another session's load. Older redis-py versions have
    neither the notifications nor the argument."""
    if "maint_notifications_config" not in inspect.signature(cls).parameters:
        return {}
    from redis.maint_notifications import MaintNotificationsConfig

    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def _text(value: Any) -> str:
    """A reply as text (redis-py gives bytes, or str when it decodes).

    :raises UnicodeDecodeError: bytes that are not UTF-8.
    """
    return value.decode() if isinstance(value, bytes) else str(value)


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def _opt(value: str) -> float | None:
    return float(value) if value else None


def _wrong_type(exc: BaseException) -> bool:
    """Whether *exc* is Redis's answer to a command on a key of another type."""
    return isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE")


class _Binding:
    """The redis-py client a store uses on one event loop in one process.

    Its *keeper* is an async generator started on that loop: asyncio closes
    the async generators of a loop (``shutdown_asyncgens``) before closing
    the loop, as ``asyncio.run`` does, and the keeper's ``finally`` then
    closes this binding's connections while the loop still runs.
    """

    __slots__ = (
        "loop",
        "pid",
        "client",
        "owned",
        "registry",
        "keeper",
        "calls",
        "closed",
        "abandoned",
        "ready",
        "lock",
        "gate",
        "forget",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: Any,
        *,
        owned: bool,
        cluster: bool,
        registry: dict[asyncio.AbstractEventLoop, _Binding],
        forget: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.loop = loop
        self.pid = os.getpid()
        self.client = client
        self.owned = owned
        self.registry = registry
        self.calls = 0
        self.closed = False  # by RedisDatabase.close()
        self.abandoned = False  # dropped without closing (see abandon)
        # The first call prepares the binding alone: it drops an injected
        # client's connections of another loop or process (*forget*) and
        # discovers a cluster's topology (redis-py's asyncio RedisCluster
        # breaks when many coroutines make its first calls at once: each
        # starts the discovery and closes connections under the others).
        self.forget = forget
        self.ready = not cluster and forget is None
        self.lock = None if self.ready else asyncio.Lock()
        # redis-py's cluster nodes raise once max_connections are in use; a
        # burst waits for a free one instead (single servers: the blocking
        # pool does this).
        self.gate: asyncio.Semaphore | None = None
        if cluster:
            limit = client.get_connection_kwargs().get("max_connections") or 100
            self.gate = asyncio.Semaphore(limit)
        self.keeper = self._keep()
        with contextlib.suppress(StopIteration):
            # Runs to its yield, without waiting for anything: the running
            # loop's async generator hooks register it with *loop*.
            self.keeper.asend(None).send(None)

    async def _keep(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self.registry.get(self.loop) is self:
                del self.registry[self.loop]
            if not self.abandoned:
                await self.release()

    async def release(self) -> None:
        """Close this binding's connections, in use or idle: the store's own
        client is closed, an injected client's connections are disconnected
        (the application closes its client). Failures are logged (DEBUG)."""
        try:
            if self.owned or isinstance(self.client, RedisCluster):
                await self.client.aclose()
            else:
                await self.client.connection_pool.disconnect()
        except Exception as exc:
            log.debug("tornsess: closing redis connections: %s: %s", type(exc).__name__, exc)

    async def close(self) -> None:
        """Close the binding on its own loop (its connections with it)."""
        self.closed = True
        await self.keeper.aclose()

    def abandon(self) -> None:
        """Forget the binding without waiting for anything, when its
        connections cannot be closed from here: its loop is closed, or it
        belongs to the parent of this forked process (whose sockets the
        child must not touch). The keeper ends at once, closing nothing."""
        self.abandoned = True
        if self.registry.get(self.loop) is self:
            del self.registry[self.loop]
        with contextlib.suppress(StopIteration):
            self.keeper.aclose().send(None)


class RedisDatabase:
    """Sessions in Redis or a Redis Cluster: one hash per session under
    ``<prefix>{<sha256 of the id>}`` (the braces are a Redis Cluster hash tag,
    so everything of a session lives in one slot).

    Give either *url* or a ready *client*:

    - ``redis://[[user]:password@]host:port/db``, ``rediss://...`` (TLS) or
      ``unix:///path/to/socket?db=0``: one Redis server (with its replicas
      behind it, if any).
    - ``redis+cluster://[[user]:password@]host:port[,host:port...]`` (or
      ``rediss+cluster://``): a Redis Cluster, found from any of the listed
      nodes. ``cluster=True`` with a ``redis://`` URL means the same.
    - *client*: a :class:`redis.asyncio.client.Redis` or a
      :class:`redis.asyncio.cluster.RedisCluster`, used as it is configured
      (pool, retries, ``decode_responses``, RESP3, TLS, Sentinel...).

    Every command goes through redis-py's public API, so what a URL says is
    done by redis-py: query options (``?max_connections=``,
    ``?socket_timeout=``, ``?health_check_interval=``, ``?protocol=3``,
    ``?client_name=``, TLS options...), ACL users, TLS and Unix sockets. A
    client built from a URL never retries a command (a write whose
    connection failed may have been applied: it is not sent twice), uses
    *timeout* as its socket timeouts, pings a connection idle for 30 s before
    using it, and takes its connections from a blocking pool of
    ``max_connections`` (100 unless the URL says otherwise), so a burst of
    requests waits for a free connection, within *timeout*, instead of
    failing. A URL that names one node of a cluster without the cluster form
    is refused at construction (the store asks the server, if it answers),
    since most requests would fail with ``MOVED``.

    Loading is one ``HGETALL``; a commit is one Lua script run by its SHA
    (``EVALSHA``, and ``EVAL`` when the server does not have it, after a
    restart), which applies the request's operations atomically, only if
    the session still exists, with increments added in Redis. The key's TTL
    is the earlier of the absolute deadline and the idle timeout (and never
    more than 400 days); the idle refresh is a ``PEXPIREAT`` plus one field,
    never a rewrite of the data. On a cluster, ``regenerate`` copies the
    session to its new key and deletes the old one (the two keys are in
    different slots, which no single command spans), and ``destroy_all``
    scans every master.

    **Renewal** (``Config(renew_after=...)``): a single server moves the
    session to its new key and turns the old key into an alias in one
    script; the alias is a string (the new id's store key and the sealed
    successor text, never an id) that expires at the end of the grace
    window. On a cluster the session is copied to its new key and the old
    key becomes the alias only if the session did not change since the
    copy; then the user index entry is re-pointed. Loading an alias costs
    one call more than a session (two on a cluster), and index readers
    follow aliases, so that listing and revoking a user's sessions never
    miss a renewed one.

    Every call is bounded by *timeout* seconds (connecting and waiting for
    a pooled connection included); a failed or timed-out call, whatever the
    client raises, becomes :class:`tornsess.StoreUnavailable` (a 503 for the
    request), and the client reconnects by itself when Redis is back.

    Stored data this store did not write is never an error: a session key
    that holds another type than a hash, or a hash without the session's
    timestamps, is a missing session (logged); a field that is not UTF-8 is
    left out of its session (logged). Session hashes are read with redis-py's
    ``NEVER_DECODE`` option, so a client with ``decode_responses=True``
    reads them as bytes too and the store decodes each field itself.

    **Event loops and processes.** redis-py's connections belong to the event
    loop that opened them, and a forked child must not use its parent's
    sockets. The store keeps one client per ``(running loop, process)``:

    - When it built the client from a URL, a call on a loop or in a process
      it has not served yet gets a new client (several loops may use the
      store at once, each with its own connections).
    - An injected client serves one loop at a time: on a new loop the store
      first disconnects the connections of its pool made on the previous one
      (and, after a fork, resets the pool, as redis-py does in a forked
      process); a cluster client is closed and rediscovers its topology.
    - A loop's connections are closed before the loop closes, when it is
      shut down as ``asyncio.run`` does (``loop.shutdown_asyncgens()``): the
      store keeps an async generator on each loop whose ``finally`` closes
      them. A loop closed without that leaves sockets no public API can
      close any more (asyncio warns about them): the store forgets them and
      never uses them again.
    - In a forked child (``tornado.process.fork_processes`` after a start-up
      check), the parent's connections are never used: the child opens its
      own, even on a loop inherited from the parent. Those of a client the
      store built are kept untouched, never closed or collected (a close
      goes through the parent's event loop, whose epoll the child shares);
      an injected client's pool is disconnected and reset, the only way
      public methods offer.

    :meth:`close` closes the connections of the running loop (an injected
    client is left to its owner), and calls still in flight on them end with
    ``StoreUnavailable``; a later call opens new ones.

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
        # _make builds a client like the first one, for a new loop or
        # process; None for an injected client, which is always the same.
        self._make: Callable[[], Any] | None
        if client is None:
            assert url is not None
            self._make, client, cluster = _client_factory(url, cluster, timeout)
        else:
            cluster = isinstance(client, RedisCluster)
            self._make = None
        self._spare: Any = client  # the client the next binding takes, if any
        self._latest: Any = client
        self.cluster = cluster
        self.prefix = prefix
        self.timeout = timeout
        # On a cluster, a session's old and new keys are in different slots.
        self._cross_slot = cluster
        self._bindings: dict[asyncio.AbstractEventLoop, _Binding] = {}
        self._inherited: list[_Binding] = []  # a parent's, in a forked child
        self._served: tuple[asyncio.AbstractEventLoop, int] | None = None

    def __repr__(self) -> str:
        return f"RedisDatabase(prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        """The redis-py client the store uses on the running event loop in
        this process; outside a loop, or on a loop the store has not served
        yet, the client it used (or built) last. An injected client is always
        that client."""
        try:
            binding = self._bindings.get(asyncio.get_running_loop())
        except RuntimeError:
            binding = None
        if binding is not None and binding.pid == os.getpid():
            return binding.client
        return self._latest

    def key(self, session_id: str) -> str:
        """The Redis key of a session."""
        return f"{self.prefix}{{{store_key(session_id)}}}"

    def index_key(self, tag: str) -> str:
        """The Redis key of a user's index (in a cluster slot of its own)."""
        return f"{self.prefix}u:{{{tag}}}"

    # -- one call ---------------------------------------------------------------

    async def _call(
        self,
        command: Callable[[Any], Awaitable[T]],
        *,
        keep: type[BaseException] | tuple[type[BaseException], ...] = (),
    ) -> T:
        """``command(client)`` on the running loop's client, within the
        timeout.

        :raises tornsess.StoreUnavailable: the call failed or timed out,
            whatever the client raised, except errors of type *keep*, which
            the caller interprets.
        """
        try:
            return await _bounded(self._attempt(command), self.timeout)
        except asyncio.TimeoutError:
            raise StoreUnavailable(f"redis did not answer within {self.timeout:g} s") from None
        except keep:
            raise
        except Exception as exc:
            raise self._unavailable(exc) from None

    async def _attempt(self, command: Callable[[Any], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        binding = self._bindings.get(loop)
        if binding is None or binding.pid != os.getpid():
            binding = self._bind(loop)
        binding.calls += 1
        try:
            if not binding.ready:
                await self._prepare(binding)
            if binding.gate is None:
                return await command(binding.client)
            async with binding.gate:
                return await command(binding.client)
        finally:
            binding.calls -= 1
            if binding.closed and binding.owned and not binding.calls:
                # close() ran while this call was in flight: anything opened
                # since (a call that waited for a connection) is closed too.
                await binding.release()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> _Binding:
        """The binding of *loop* in this process, made now. Bindings of
        another process (before a fork) and of closed loops are forgotten;
        an injected client leaves its previous loop."""
        pid = os.getpid()
        for other in list(self._bindings.values()):
            if other.pid != pid:
                other.abandon()
                if other.owned:
                    self._inherited.append(other)  # never touched again
            elif other.loop.is_closed() or self._make is None:
                other.abandon()
        forget: Callable[[], Awaitable[None]] | None = None
        if self._make is None:
            client = self._spare
            if self._served is not None and self._served != (loop, pid):
                forked = self._served[1] != pid
                forget = lambda: _forget(client, forked=forked)  # noqa: E731
            self._served = (loop, pid)
        else:
            client = self._spare if self._spare is not None else self._make()
            self._spare = None
        binding = _Binding(
            loop,
            client,
            owned=self._make is not None,
            cluster=self.cluster,
            registry=self._bindings,
            forget=forget,
        )
        self._bindings[loop] = binding
        self._latest = client
        return binding

    async def _prepare(self, binding: _Binding) -> None:
        """The first call on a binding, alone: drop the connections an
        injected client made elsewhere, discover a cluster's topology."""
        assert binding.lock is not None
        async with binding.lock:
            if binding.ready:
                return
            if binding.forget is not None:
                await binding.forget()
                binding.forget = None
            if self.cluster:
                await binding.client.initialize()
            binding.ready = True

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        if isinstance(exc, AskError) and not self.cluster:
            return StoreUnavailable(
                f"redis: {type(exc).__name__}: {exc}: the server is a Redis Cluster "
                f"node; {_CLUSTER_HINT}"
            )
        return StoreUnavailable(f"redis: {type(exc).__name__}: {exc}")

    async def _hash(self, key: str) -> Mapping[Any, Any] | None:
        """The fields of the hash at *key*, not decoded (empty if there is no
        such key), or ``None`` if the key holds another type (logged)."""
        return await self._tolerant(
            lambda client: client.execute_command("HGETALL", key, **_RAW), key, None
        )

    async def _tolerant(self, command: Callable[[Any], Awaitable[T]], key: str, default: T) -> T:
        """:meth:`_call`, answering *default* (and logging it) when *key*
        holds another type than a hash."""
        try:
            return await self._call(command, keep=ResponseError)
        except ResponseError as exc:
            if not _wrong_type(exc):
                raise self._unavailable(exc) from None
        log.warning("tornsess: redis key %s holds another type than a hash; ignored", key)
        return default

    def _run(
        self, script: _Script, keys: list[str], args: Sequence[Any] = (), **options: Any
    ) -> Awaitable[Any]:
        """*script* on *keys* through :meth:`_call`."""
        return self._call(lambda client: script(client, keys, args, **options))

    async def _fields(self, key: str) -> Mapping[Any, Any] | None:
        """The fields of the hash at *key* (empty: no key), or ``None`` if
        it holds another type (not logged)."""
        try:
            fields: Mapping[Any, Any] = await self._call(
                lambda client: client.execute_command("HGETALL", key, **_RAW), keep=ResponseError
            )
        except ResponseError as exc:
            if not _wrong_type(exc):
                raise self._unavailable(exc) from None
            return None
        return fields

    async def _alias_at(self, key: str) -> tuple[str, str] | None:
        """The store key and the sealed text of the alias at *key*, or
        ``None`` if *key* is no alias."""
        try:
            value = await self._call(
                lambda client: client.execute_command("GET", key, **_RAW), keep=ResponseError
            )
        except ResponseError as exc:
            if not _wrong_type(exc):
                raise self._unavailable(exc) from None
            return None
        return None if value is None else _parse_alias(value)

    async def _follow(self, store_hash: str) -> tuple[Mapping[Any, Any] | None, str]:
        """On a cluster, for an index reader: the fields of the session
        *store_hash* names, following aliases (:data:`_ALIAS_LEVELS`), and
        the store key they were found under. ``None``: another type than a
        hash or an alias (logged)."""
        for _ in range(_ALIAS_LEVELS + 1):
            key = f"{self.prefix}{{{store_hash}}}"
            fields = await self._fields(key)
            if fields is not None:
                return fields, store_hash
            alias = await self._alias_at(key)
            if alias is None:
                log.warning("tornsess: redis key %s holds another type than a hash; ignored", key)
                return None, store_hash
            store_hash = alias[0]
        return {}, store_hash

    @staticmethod
    def _pexpireat(expires_at: float | None) -> int:
        limit = time.time() + BROWSER_MAX_AGE
        return int(1000 * (limit if expires_at is None else min(expires_at, limit)))

    # -- the Database protocol ----------------------------------------------------

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        """Accepted for the protocol; Redis expirations are not reported."""

    async def load(self, session_id: str) -> Record | None:
        """The session (one ``HGETALL``), or ``None``: missing, expired, or a
        key that holds no session this store wrote (logged). A renewed
        session's old id in its grace window gives the renewed session, with
        :attr:`Record.successor` set (one call more; two on a cluster).

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(session_id):
            return None
        key = self.key(session_id)
        raw = await self._fields(key)
        if raw is None:
            return await self._load_alias(key)
        return _record(raw, key)

    async def _load_alias(self, key: str) -> Record | None:
        """:meth:`load` of a key that held another type than a hash: the
        session an alias names (one level only), else ``None`` (logged for
        a key this store did not write)."""
        if not self.cluster:
            answer = await self._run(_LOAD_ALIAS, [key], [self.prefix], **_RAW)
            kind = _text(answer[0])
            if kind == "alias":
                return _record(answer[1], key, _text(answer[2]))
            if kind == "hash":
                return _record(answer[1], key)
            if kind == "none":
                return None
        else:
            try:
                value = await self._call(
                    lambda client: client.execute_command("GET", key, **_RAW),
                    keep=ResponseError,
                )
            except ResponseError as exc:
                if not _wrong_type(exc):
                    raise self._unavailable(exc) from None
                value = False  # neither a hash nor a string
            if value is None:  # gone since
                return None
            alias = _parse_alias(value)
            if alias is not None:
                target = f"{self.prefix}{{{alias[0]}}}"
                raw = await self._fields(target)
                record = None if raw is None else _record(raw, target, alias[1])
                if record is not None:
                    await self._repair_index(record, key, alias[0])
                return record
        log.warning("tornsess: redis key %s holds another type than a hash; ignored", key)
        return None

    async def create(self, session_id: str, record: Record) -> bool:
        """Store a new session; ``False`` if its key is taken.

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key = self.key(session_id)
        args: list[Any] = [self._pexpireat(record.expires_at)]
        args += ["_c", repr(record.created), "_a", repr(record.accessed)]
        args += ["_d", _num(record.deadline), "_e", _num(record.expires_at)]
        if record.issued != record.created:
            args += ["_r", repr(record.issued)]
        for name, value in record.values.items():
            args += [f"v:{name}", value]
        for name in record.immutable:
            args += [f"i:{name}", "1"]
        for name, value in record.flashes.items():
            args += [f"f:{name}", value]
        bound = Binding.loads(record.binding)
        if bound is not None:
            args += ["_b", record.binding, "_t", bound.tag]
        return bool(await self._run(_CREATE, [key], args))

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        """Apply *ops* and the times in one script, atomically.

        :raises tornsess.SessionInterrupted: the session is gone (or its key
            holds no session); nothing is written.
        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id; nothing is written.
        :raises tornsess.ImmutableEntry: an operation changes an immutable key.
        :raises TypeError: an increment of a non-number (or beyond 15 digits).
        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(session_id):
            raise SessionInterrupted("not a session id")
        key = self.key(session_id)
        until = self._pexpireat(expires_at)
        args: list[Any] = [
            repr(accessed),
            _num(deadline),
            _num(expires_at),
            until,
            len(ops),
            "" if self.cluster else self.prefix,
        ]
        for op in ops:
            args += [op.kind, op.key, op.value]
        result = await self._run(_COMMIT, [key], args)
        status, name = (_text(part) for part in result)
        if status == "ok":
            await self._extend_index_apart(name, until)
            return
        if status == "gone":
            raise SessionInterrupted("the session was destroyed or expired")
        if status == "moved":
            raise SessionMoved(name)
        if status == "immutable":
            raise ImmutableEntry(name)
        if status == "bigint":
            raise TypeError(f"cannot increment {name!r} in Redis beyond 15 digits")
        raise TypeError(f"cannot increment {name!r}: it holds a non-number")

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        """Move the expiry and the access time; ``False`` if the session is
        gone (or its key holds no session).

        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id; nothing is written.
        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key = self.key(session_id)
        until = self._pexpireat(expires_at)
        args: list[Any] = [
            until,
            repr(accessed),
            _num(expires_at),
            "" if self.cluster else self.prefix,
        ]
        touched, text = await self._run(_TOUCH, [key], args)
        if touched == 2:
            raise SessionMoved(_text(text))
        await self._extend_index_apart(_text(text), until)
        return bool(touched)

    async def _extend_index_apart(self, tag: str, until: int) -> None:
        """On a cluster, keep the user index of a logged-in session (its
        *tag*, as a script answered it) alive until *until* (milliseconds),
        in a call of its own: the index is in another slot. On a single
        server the script did it already."""
        if tag and self.cluster:
            await self._index_write(tag, ["", "", until])

    async def rename(self, old_id: str, new_id: str, issued: float | None = None) -> bool:
        """``RENAMENX`` in a script that first checks the old key holds a
        session, and sets when the new id was *issued* (``None``: now);
        atomic. Under Redis Cluster the two keys live in different slots,
        which no single command can span: then the session is copied to the
        new key and the old key deleted if the session did not change in
        between (else the copy is made again; if a destroy or a renewal wins
        the race, the copy is deleted).

        :raises tornsess.SessionInterrupted: the session is gone (or its key
            holds no session).
        :raises tornsess.errors.SessionMoved: *old_id* is a renewed
            session's old id; nothing is written.
        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(old_id) or not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old, new = self.key(old_id), self.key(new_id)
        stamp = repr(time.time() if issued is None else issued)
        if not self._cross_slot:
            hashes = [self.prefix, store_key(old_id), store_key(new_id), stamp]
            answer = await self._same_slot(_RENAME, [old, new], hashes)
            if answer is not None:
                moved = int(answer[0])
                if moved == -2:
                    raise SessionMoved(_text(answer[1]))
                if moved < 0:
                    raise SessionInterrupted("the session was destroyed or expired")
                return bool(moved)
        result, _ = await self._copy_move(old, new, stamp, "", 0)
        if isinstance(result, str):
            raise SessionMoved(result)
        return result

    async def renew(
        self, old_id: str, new_id: str, sealed: str, issued: float, grace_until: float
    ) -> bool | str:
        """Move the session to *new_id* and keep its old key until
        *grace_until* as an alias holding *sealed* and the new id's store
        key (:meth:`tornsess.database.Renewable.renew`). One script on a
        single server. On a cluster: the session is copied (with its expiry)
        to the new key, then a script turns the old key into the alias only
        if the session did not change since the copy (else the copy is made
        again, a few times, then ``False``), and the user index entry is
        re-pointed if it still names the old key.

        :raises tornsess.SessionInterrupted: no session under *old_id*.
        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(old_id) or not is_valid_id(new_id):
            raise SessionInterrupted("not a session id")
        old, new = self.key(old_id), self.key(new_id)
        old_hash, new_hash = store_key(old_id), store_key(new_id)
        alias = f"{_ALIAS_PREFIX}{new_hash}:{sealed}" if grace_until > time.time() else ""
        alias_until = int(1000 * grace_until)
        if not self._cross_slot:
            args = [self.prefix, old_hash, new_hash, repr(issued), alias, alias_until]
            answer = await self._same_slot(_RENEW, [old, new], args)
            if answer is not None:
                status = _text(answer[0])
                if status == "ok":
                    return True
                if status == "taken":
                    return False
                if status == "moved":
                    return _text(answer[1])
                raise SessionInterrupted("the session was destroyed or expired")
        result, binding = await self._copy_move(old, new, repr(issued), alias, alias_until)
        bound = Binding.loads(binding) if result is True else None
        if bound is not None:
            await self._repoint(bound.tag, bound.handle, old_hash, new_hash)
        return result

    async def _same_slot(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        """*script* on two keys, or ``None`` when they are in different slots
        of a cluster (remembered: the caller copies instead)."""
        try:
            return await self._call(
                lambda client: script(client, keys, args),
                keep=(ResponseError, RedisClusterException),
            )
        except (ResponseError, RedisClusterException) as exc:
            message = str(exc).lower()
            if "crossslot" not in message and "same key slot" not in message:
                raise self._unavailable(exc) from None
            self._cross_slot = True
            return None

    async def _copy_move(
        self, old: str, new: str, issued: str, alias: str, alias_until: int
    ) -> tuple[bool | str, str | None]:
        """Move a session across slots: copy it to *new* (``_r`` set to
        *issued*), then turn *old* into *alias* (``""``: delete it) if the
        session is unchanged since the copy, else copy again. Returns the
        outcome (``True``; ``False`` when *new* is taken or the session kept
        changing; an alias's sealed text when *old* is one) and the moved
        session's binding text.

        :raises tornsess.SessionInterrupted: no session under *old*.
        """
        for _ in range(_COPY_ATTEMPTS):
            snapshot = await self._run(_SNAPSHOT, [old], [], **_RAW)
            status = _text(snapshot[0])
            if status == "moved":
                return _text(snapshot[1]), None
            fields = snapshot[2] if status == "hash" else []
            record = _record(fields, old)
            if record is None:
                raise SessionInterrupted("the session was destroyed or expired")
            expiry = int(snapshot[3])
            args: list[Any] = [expiry if expiry >= 0 else self._pexpireat(record.expires_at)]
            for name, value in zip(fields[::2], fields[1::2], strict=False):
                if name not in (b"_r", "_r"):
                    args += [name, value]
            args += ["_r", issued]
            if not await self._run(_CREATE, [new], args):
                return False, None
            done = await self._run(_CONVERT, [old], [snapshot[1], alias, alias_until], **_RAW)
            status = _text(done[0])
            if status == "ok":
                return True, record.binding
            await self._call(lambda client: client.delete(new))
            if status == "moved":
                return _text(done[1]), None
            if status == "gone":
                raise SessionInterrupted("the session was destroyed during its move")
        return False, None

    async def _repair_index(self, record: Record, old_key: str, new_hash: str) -> None:
        """On a cluster, a request through a renewed session's old id re-points
        the user index entry that still names the old key (compare-and-set),
        in case the renewal's own re-point failed (its request got a 503 and
        its client comes back with the old id): a renewed session that a
        client can reach is never missing from its user's index."""
        bound = Binding.loads(record.binding)
        if bound is not None:
            old_hash = old_key[len(self.prefix) :].strip("{}")
            await self._repoint(bound.tag, bound.handle, old_hash, new_hash)

    async def _repoint(self, tag: str, handle: str, old_hash: str, new_hash: str) -> None:
        """On a cluster, after a renewal: the user index entry names the
        renewed session's new key if it named the old one, or an alias of
        the old one (an earlier renewal that no reader followed yet)."""
        index = self.index_key(tag)
        done, current = await self._run(_INDEX_REPOINT, [index], [handle, old_hash, new_hash])
        current = _text(current)
        if done or not current or current == new_hash:
            return
        alias = await self._alias_at(f"{self.prefix}{{{current}}}")
        if alias is not None and alias[0] == old_hash:
            await self._run(_INDEX_REPOINT, [index], [handle, current, new_hash])

    async def exists(self, session_id: str) -> bool:
        """Whether the session's key exists (a renewed session's old key,
        in its grace window, does).

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        key = self.key(session_id)
        return bool(await self._call(lambda client: client.exists(key)))

    async def destroy(self, session_id: str) -> bool:
        """Delete the session's key; ``True`` if it existed.

        :raises tornsess.errors.SessionMoved: the id is a renewed session's
            old id; nothing is deleted.
        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        if not is_valid_id(session_id):
            return False
        answer = await self._run(_DESTROY, [self.key(session_id)], [], **_RAW)
        if int(answer[0]) == 2:
            raise SessionMoved(_text(answer[1]))
        return bool(int(answer[0]))

    async def destroy_all(self) -> list[str]:
        """Delete every key under the prefix with ``SCAN`` (never ``KEYS``);
        glob characters in the prefix are escaped; on a cluster, every master
        is scanned. Returns ``[]``: Redis holds only hashes of the ids.

        :raises tornsess.StoreUnavailable: Redis failed, or the whole scan
            took longer than the timeout.
        """
        escaped = _GLOB.sub(r"\\\1", self.prefix)

        async def run(client: Any) -> None:
            for pattern in (escaped + "{*}", escaped + "u:{*}"):  # sessions, then indexes
                batch: list[Any] = []
                async for key in client.scan_iter(match=pattern, count=500, **_RAW):
                    batch.append(key)
                    if len(batch) >= 500:
                        await client.unlink(*batch)
                        batch = []
                if batch:
                    await client.unlink(*batch)

        await self._call(run)
        return []

    # -- the user index -------------------------------------------------------------
    # On a cluster a user's index is in a slot of its own, apart from its
    # sessions: adding, pruning and destroying are separate commands, each
    # safe to repeat, and a reader prunes entries whose session is gone.

    async def index_add(
        self, tag: str, handle: str, session_id: str, expires_at: float | None
    ) -> None:
        """File *handle* under *tag* (an index key of another type is
        replaced, logged).

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        await self._index_write(tag, [handle, store_key(session_id), self._pexpireat(expires_at)])

    async def _index_write(self, tag: str, args: list[str | int]) -> None:
        index = self.index_key(tag)
        answer = await self._run(_INDEX_ADD, [index], args)
        if int(answer) >= 2:
            log.warning("tornsess: redis key %s held another type than a hash; replaced", index)

    async def index_remove(self, tag: str, handle: str) -> None:
        """Drop *handle*'s entry.

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        index = self.index_key(tag)
        await self._tolerant(lambda client: client.hdel(index, handle), index, 0)

    async def index_sessions(self, tag: str) -> list[tuple[str, Record]]:
        """The live sessions under *tag*; dead or unreadable entries are
        pruned. An entry that names a renewed session's alias gives the
        renewed session, and is re-pointed at it.

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        index = self.index_key(tag)
        rows: list[tuple[Any, Any, Any]]
        if not self.cluster:
            rows = await self._run(_INDEX_READ, [index], [self.prefix, _ALIAS_LEVELS], **_RAW)
        else:
            # On a cluster the sessions are in other slots than their index:
            # the entries first, then each session.
            rows = []
            for raw_handle, raw_key in ((await self._hash(index)) or {}).items():
                try:
                    entry = _text(raw_key)
                except UnicodeDecodeError:
                    rows.append((raw_handle, raw_key, None))
                    continue
                fields, found_at = await self._follow(entry)
                if fields and found_at != entry:  # only if it still names the alias
                    await self._run(_INDEX_REPOINT, [index], [raw_handle, raw_key, found_at])
                rows.append((raw_handle, raw_key, fields))
        found: list[tuple[str, Record]] = []
        dead: list[Any] = []  # handle, store key, ...: pruned only if unchanged
        for raw_handle, raw_key, raw in rows:
            try:
                handle, key = _text(raw_handle), _text(raw_key)
            except UnicodeDecodeError:
                log.warning("tornsess: redis key %s has an entry that is not UTF-8; dropped", index)
                dead += [raw_handle, raw_key]
                continue
            session_key = f"{self.prefix}{{{key}}}"
            record = None if not raw else _record(raw, session_key)
            if record is None:
                dead += [raw_handle, raw_key]
            else:
                found.append((handle, record))
        if dead:
            await self._run(_INDEX_PRUNE, [index], dead)
        return found

    async def index_destroy(self, tag: str, handle: str) -> tuple[bool, str | None]:
        """Destroy the session of *handle* and drop its entry. An entry that
        names a renewed session's alias destroys the renewed session and the
        alias.

        :raises tornsess.StoreUnavailable: Redis failed or timed out.
        """
        index = self.index_key(tag)
        if not self.cluster:
            args = [handle, self.prefix, _ALIAS_LEVELS]
            answer = await self._run(_INDEX_DESTROY, [index], args)
            return int(answer) == 1, None
        # On a cluster the index and the session are in different slots:
        # three steps, the entry dropped only if it still names the key
        # deleted.
        raw = await self._tolerant(
            lambda client: client.execute_command("HGET", index, handle, **_RAW), index, None
        )
        if raw is None:
            return False, None
        existed = False
        try:
            store_hash = _text(raw)
        except UnicodeDecodeError:
            log.warning("tornsess: redis key %s has an entry that is not UTF-8; dropped", index)
        else:
            existed = await self._destroy_following(store_hash)
        # The entry goes only if it still names the key just deleted: a
        # regenerate may have re-pointed it at the session's new key.
        await self._run(_INDEX_PRUNE, [index], [handle, raw])
        return existed, None

    async def _destroy_following(self, store_hash: str) -> bool:
        """On a cluster: delete the session *store_hash* names, following
        aliases (:data:`_ALIAS_LEVELS`; the renewed session first, then the
        aliases, so that an interrupted revoke never leaves a session with
        nothing naming it); whether the session existed."""
        aliases: list[str] = []
        existed = False
        for _ in range(_ALIAS_LEVELS + 1):
            key = f"{self.prefix}{{{store_hash}}}"
            answer = await self._run(_DESTROY, [key], [], **_RAW)
            if int(answer[0]) != 2:
                existed = bool(int(answer[0]))
                break
            aliases.append(key)
            store_hash = _text(answer[2])
        for key in aliases:
            await self._run(_DESTROY_ALIAS, [key])
        return existed

    async def close(self) -> None:
        """Close the connections of the store's own client on the running
        loop; calls in flight on them end with ``StoreUnavailable``. An
        injected client is left to its owner. Connections of other live
        loops are closed when those loops shut down; a later call opens new
        connections. Never raises."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        pid = os.getpid()
        for binding in list(self._bindings.values()):
            if binding.pid != pid:
                binding.abandon()
                if binding.owned:
                    self._inherited.append(binding)
            elif binding.loop.is_closed():
                binding.abandon()
            elif binding.loop is loop:
                if binding.owned:
                    await binding.close()
                else:
                    binding.abandon()


if sys.version_info >= (3, 11):

    async def _bounded(call: Awaitable[T], seconds: float) -> T:
        """*call*, cancelled after *seconds* (``asyncio.timeout``: no Task of
        its own, unlike ``wait_for`` before Python 3.12)."""
        async with asyncio.timeout(seconds):
            return await call

else:  # pragma: no cover - Python 3.10
    _bounded = asyncio.wait_for


async def _forget(client: Any, *, forked: bool) -> None:
    """Drop the connections an injected *client* made on another event loop
    or, if *forked*, in the parent process: disconnected (closing what can
    be closed), then, after a fork, forgotten by the pool (``reset``, as
    redis-py does in a forked process). A cluster client is closed: it
    rediscovers its topology on the next call."""
    try:
        if isinstance(client, RedisCluster):
            await client.aclose()
        else:
            await client.connection_pool.disconnect()
    except Exception as exc:  # a socket of a closed or foreign loop
        log.debug("tornsess: dropping redis connections: %s: %s", type(exc).__name__, exc)
    if forked and not isinstance(client, RedisCluster):
        client.connection_pool.reset()


def _record(
    raw: Mapping[Any, Any] | Sequence[Any], key: str, successor: str | None = None
) -> Record | None:
    """A session's hash (a dict, or ``HGETALL``'s flat list of fields and
    values; bytes or str) as a Record, or ``None``: missing, expired, or not
    a session this store wrote (logged). Fields that are not UTF-8 are left
    out (logged). *successor*: the sealed text of the alias it was read
    through."""
    if not raw:
        return None
    pairs = raw.items() if isinstance(raw, Mapping) else zip(raw[::2], raw[1::2], strict=False)
    fields: dict[str, str] = {}
    unreadable = 0
    for raw_name, raw_value in pairs:
        try:
            fields[_text(raw_name)] = _text(raw_value)
        except UnicodeDecodeError:
            unreadable += 1
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
        issued = _opt(fields.get("_r", ""))
    except (KeyError, ValueError):
        log.warning("tornsess: redis key %s holds no session this store wrote; ignored", key)
        return None
    if expires_at is not None and expires_at <= time.time():
        return None
    if unreadable:
        log.warning(
            "tornsess: ignoring %d field(s) of redis key %s that are not UTF-8", unreadable, key
        )
    return Record(
        values,
        frozenset(immutable),
        flashes,
        created,
        accessed,
        deadline,
        expires_at,
        fields.get("_b"),
        issued,
        successor,
    )


def _parse_alias(value: Any) -> tuple[str, str] | None:
    """The store key and the sealed text an alias's value holds, or ``None``
    for a value that is no alias."""
    try:
        match = _ALIAS_RE.fullmatch(_text(value))
    except UnicodeDecodeError:
        return None
    return None if match is None else (match[1], match[2])


def _redact(url: str) -> str:
    """*url* without its password (``redis://user:***@host``), for messages.

    The credentials are everything between ``://`` and the last ``@``, so a
    password holding ``/``, ``#`` or ``?`` (which end a URL's authority) is
    masked too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, after = rest.rpartition("@")
    if at:
        user = credentials.partition(":")[0] if ":" in credentials else credentials
        rest = f"{user}:***@{after}"
    base, mark, query = rest.partition("?")
    if "password" in query:
        query = urlencode(
            [(k, "***" if k == "password" else v) for k, v in parse_qsl(query)], safe="*"
        )
    return f"{scheme}://{base}{mark}{query}"


def _has_password(url: str) -> bool:
    """Whether *url* holds a password, in its credentials or its query."""
    rest = url.partition("://")[2]
    return ":" in rest.rpartition("@")[0] or "password=" in url


def _client_factory(url: str, cluster: bool, timeout: float) -> tuple[Callable[[], Any], Any, bool]:
    """A function that builds the client a URL names (a new one per call),
    its first client, and whether it is a cluster client.

    :raises tornsess.ConfigError: a URL redis-py cannot use.
    """
    if not isinstance(url, str):
        raise ConfigError("url", f"must be a str, got {type(url).__name__}")

    # The URL's own query options win over these, as redis-py documents.
    # No retry, whatever the URL says (``?retry_on_timeout=`` adds errors to
    # retry on; zero retries stay zero): a write whose connection failed may
    # have been applied and is not sent again, and a stalled Redis costs a
    # request one timeout, not one per attempt. No socket timeout and no
    # pool wait timeout either: the store bounds every call as a whole (a
    # cancelled read drops its connection), and redis-py's own timers would
    # cost each command a Task and two timers more (docs/performance.rst).
    def options(cls: type) -> dict[str, Any]:
        return {
            "socket_timeout": None,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
            **_quiet(cls),
        }

    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme)
    make: Callable[[], Any]
    try:
        if scheme is None and not cluster:

            def make() -> Any:
                pool = aioredis.BlockingConnectionPool.from_url(
                    url,
                    timeout=None,
                    max_connections=100,
                    health_check_interval=30,
                    **options(aioredis.ConnectionPool),
                )
                return aioredis.Redis.from_pool(pool)

            first = make()
            first.connection_pool.make_connection()  # the URL's options, checked now
            _refuse_cluster_node(url, timeout)
            return make, first, False
        if scheme is None and parts.scheme not in ("redis", "rediss"):
            raise ConfigError(
                "url", f"a cluster needs a redis:// or rediss:// URL, got {_redact(url)!r}"
            )
        credentials, _, hosts = parts.netloc.rpartition("@")
        nodes = [node for node in hosts.split(",") if node]
        if not nodes:
            raise ConfigError("url", f"no cluster node in {_redact(url)!r}")
        seed = (credentials + "@" if credentials else "") + nodes[0]
        single = urlunsplit((scheme or parts.scheme, seed, parts.path, parts.query, ""))
        others = [_host_port(node) for node in nodes[1:]]

        def make() -> Any:
            startup = [ClusterNode(host, port) for host, port in others]
            return RedisCluster.from_url(
                single, startup_nodes=startup or None, **options(RedisCluster)
            )

        return make, make(), True
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        # The parser's message may quote a piece of the password.
        reason = f"{type(exc).__name__}" if _has_password(url) else str(exc)
        raise ConfigError("url", f"{_redact(url)}: {reason}") from None


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("url", f"a cluster node must be HOST:PORT, got {node!r}")
    return host.strip("[]"), int(port)


def _refuse_cluster_node(url: str, timeout: float) -> None:
    """Ask the server behind a plain URL whether it is a cluster node; raise
    ConfigError if it is. A server that does not answer is not judged (it
    may be down at start-up; requests then get 503 until it is back)."""
    probe = redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=SyncRetry(NoBackoff(), 0),
    )
    try:
        info = probe.info("cluster")
    except Exception as exc:
        # Keep starting (Redis may come up later), but say so now: until it
        # answers, every request that needs a session gets a 503.
        log.warning(
            "tornsess: redis at %s does not answer at start-up (%s: %s); requests that "
            "need a session get 503 until it does",
            _redact(url),
            type(exc).__name__,
            exc,
        )
        return
    finally:
        probe.close()
    if info.get("cluster_enabled") in (1, "1"):
        raise ConfigError("url", f"{_redact(url)} is a Redis Cluster node; {_CLUSTER_HINT}")
