"""The edges an adversarial and fault-testing pass found open (issue 8):
each case with the outcome it must now get, over real HTTP, through real
Redis and SQLite."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import pickle
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from tornado.web import Application

import tornsess
from tests.apps import Base, make_app
from tests.helpers import Browser, OwnRedis
from tornsess import ConfigError, MemoryDatabase, SessionInterrupted, Sessions
from tornsess.database import Database, Record
from tornsess.encoders import SecretBoxEncoder
from tornsess.ids import new_id
from tornsess.keys import decode_key, generate_key
from tornsess.request import FailureLog
from tornsess.sessiondb import PostgreSQLDatabase, RedisDatabase, SQLiteDatabase

COOKIE = "tornsessid"


async def stored_sessions(db: Database) -> int:
    """How many sessions the store holds, read from the store itself."""
    if isinstance(db, MemoryDatabase):
        return len(db)
    if isinstance(db, SQLiteDatabase):
        with closing(sqlite3.connect(db.path)) as conn, conn:
            return int(conn.execute("SELECT COUNT(*) FROM tornsess_sessions").fetchone()[0])
    if isinstance(db, PostgreSQLDatabase):
        return await db.count()
    assert isinstance(db, RedisDatabase)
    return len(await db.client.keys(db.prefix + "*"))


# -- expiration on a session that is not stored ---------------------------------


@pytest.mark.gen_test
async def test_expiration_without_a_stored_session_stores_nothing(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()

    async def shift(h: Base) -> Any:
        try:
            await h.sessions.shift_expiration(h)
        except tornsess.SessionNotFound:
            return "not found"
        return "shifted"

    browser = serve(make_app(manager, run=shift))
    for _ in range(50):
        response = await browser.get("/update?expires=3600", keep=False)
        assert response.code == 404
        assert response.set_cookies == {}
    for _ in range(5):
        response = await browser.get("/run", keep=False)
        assert response.json() == "not found"
        assert response.set_cookies == {}
    # An id the store does not hold, and a destroyed one.
    unknown = await browser.get("/update?expires=3600", cookie=f"{COOKIE}={new_id()}")
    assert unknown.code == 404 and unknown.set_cookies == {}
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    await browser.get("/destroy")
    dead = await browser.get("/update?expires=3600", cookie=f"{COOKIE}={sid}")
    assert dead.code == 404 and dead.set_cookies == {}
    assert await stored_sessions(manager.database) == 0


@pytest.mark.gen_test
async def test_a_new_session_with_data_may_get_a_lifetime(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    manager = sessions_factory()

    async def remember(h: Base) -> Any:
        h.session.set("user", "alice")
        await h.sessions.update_expiration(h, 3600)
        return h.session.id

    browser = serve(make_app(manager, run=remember))
    response = await browser.get("/run")
    assert response.code == 200
    assert response.cookie(COOKIE)["max-age"] == "3600"
    assert await manager.database.exists(response.json())
    assert (await browser.get("/get")).json()["values"] == {"user": "alice"}


# -- cookie options ---------------------------------------------------------------

BAD_DOMAINS = [
    "example.com; HttpOnly",
    "example.com;",
    "example.com,evil.com",
    "exa mple.com",
    "example.com\r\nSet-Cookie: x=1",
    "example.com\t",
    "example.com\x00",
    "bücher.example",
    "127.0.0.1",
    "[::1]",
    "::1",
    "localhost",
    "com",
    "co.uk",
    ".co.uk",
    "github.io",
    "",
    ".",
    "a..b.com",
]
BAD_PATHS = ["/;Secure", "/a,b", "/a b", "/a\r\nX: y", "/\x00", "/é", "no-slash", ""]


@pytest.mark.parametrize("domain", BAD_DOMAINS)
def test_cookie_domain_refuses_what_cannot_stand_in_the_attribute(domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        tornsess.cookie_domain(domain)
    assert info.value.field == "cookie_domain"


@pytest.mark.parametrize("path", BAD_PATHS)
def test_cookie_path_refuses_what_cannot_stand_in_the_attribute(path: str) -> None:
    with pytest.raises(ConfigError) as info:
        tornsess.cookie_path(path)
    assert info.value.field == "cookie_path"


def test_config_path_refuses_commas_too() -> None:
    with pytest.raises(ConfigError):
        tornsess.Config(path="/a,b")


def test_cookie_same_site_refuses_other_values() -> None:
    for value in ["lax; Secure", "Lax\r\n", "Sometimes", 5]:
        with pytest.raises(ConfigError):
            tornsess.cookie_same_site(value)  # type: ignore[arg-type]


@pytest.mark.gen_test
async def test_good_domain_and_path_options_are_written(serve: Callable[..., Browser]) -> None:
    manager = Sessions(disable_subdomain_persistence=True)

    async def with_options(h: Base) -> Any:
        session = await h.sessions.start(
            h, tornsess.cookie_domain(".Example.COM"), tornsess.cookie_path("/app")
        )
        session.set("a", 1)
        return "ok"

    browser = serve(make_app(manager, run=with_options))
    line = (await browser.get("/run")).cookie(COOKIE)["line"]
    assert "Domain=example.com" in line
    assert "Path=/app" in line


# -- two requests regenerating one session at once ---------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_double_submitted_login_gives_one_winner_and_a_409(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = sessions_factory()
    arrived: list[str] = []
    both_loaded = asyncio.Event()

    async def login(h: Base) -> Any:
        arrived.append(h.session.id)
        if len(arrived) == 2:
            both_loaded.set()
        await both_loaded.wait()
        await h.session.regenerate()
        h.session.set("user", "alice")
        return h.session.id

    browser = serve(make_app(manager, run=login))
    old = (await browser.get("/set?key=a&value=b")).json()["id"]
    caplog.set_level(logging.INFO)
    first, second = await asyncio.gather(browser.fork().get("/run"), browser.fork().get("/run"))
    assert arrived == [old, old]
    winner, loser = (first, second) if first.code == 200 else (second, first)
    assert sorted([first.code, second.code]) == [200, 409]
    new = winner.json()
    assert winner.cookie(COOKIE)["value"] == new
    assert loser.set_cookies == {}  # the winner's cookie stands
    assert loser.headers["Cache-Control"] == "no-store"
    assert not await manager.database.exists(old)
    assert await manager.database.exists(new)
    after = await browser.get("/get", cookie=f"{COOKIE}={new}")
    assert after.json()["values"] == {"a": "b", "user": "alice"}
    # No traceback: one INFO line for the lost race, nothing at ERROR.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
    assert [r for r in caplog.records if r.name == "tornsess" and "409" in r.getMessage()]


def test_session_interrupted_is_a_409() -> None:
    exc = SessionInterrupted()
    assert exc.status_code == 409
    assert isinstance(exc, tornsess.TornsessError)


# -- SQLite: a corrupt row ----------------------------------------------------------


class _Boom:
    """Unpickling this would run ``_pwned`` (it never is)."""

    def __reduce__(self) -> Any:
        return (_pwned, ())


PWNED: list[bool] = []


def _pwned() -> None:  # pragma: no cover - must never run
    PWNED.append(True)


class NotUtf8(bytes):
    """Bytes that a row holds as TEXT: not UTF-8, so not text this store wrote."""


def set_column(conn: sqlite3.Connection, column: str, value: Any) -> None:
    """Set *column* of every session row to *value* (``NotUtf8``: as TEXT)."""
    assert column in {"data", "sid", "created"}
    placeholder = "CAST(? AS TEXT)" if isinstance(value, NotUtf8) else "?"
    conn.execute(f"UPDATE tornsess_sessions SET {column} = {placeholder}", (value,))  # noqa: S608


UNREADABLE: list[Any] = [
    "not json at all",
    "null",
    "[1, 2, 3]",
    '"a string"',
    '{"v": 5, "i": [], "f": {}}',
    '{"v": {}, "i": "a", "f": {}}',
    '{"v": {}, "i": [], "f": []}',
    '{"v": {}, "i": [], "f": {}, "t": true}',
    '{"v": {}, "i": [], "f": {}, "t": 1' + "0" * 400 + "}",  # no float holds it
    pickle.dumps(_Boom()),
    NotUtf8(b'\xff{"v": {}}'),
]


@pytest.mark.gen_test
@pytest.mark.parametrize("data", UNREADABLE, ids=range(len(UNREADABLE)))
async def test_sqlite_unreadable_row_is_a_fresh_session_and_removed(
    serve: Callable[..., Browser],
    tmp_path: Path,
    data: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = SQLiteDatabase(str(tmp_path / "s.db"))
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    with closing(sqlite3.connect(db.path)) as conn, conn:
        set_column(conn, "data", data)
    for _ in range(2):  # not a 500 on this request, nor on any later one
        response = await browser.get("/get", cookie=f"{COOKIE}={sid}")
        assert response.code == 200
        assert response.json()["is_new"] is True
        assert response.json()["id"] != sid
    with closing(sqlite3.connect(db.path)) as conn, conn:
        assert conn.execute("SELECT COUNT(*) FROM tornsess_sessions").fetchone()[0] == 0
    assert not PWNED
    assert any("unreadable SQLite session row" in r.getMessage() for r in caplog.records)
    await db.close()


@pytest.mark.gen_test
@pytest.mark.parametrize("call", ["load", "commit", "rename", "renew"])
async def test_sqlite_an_unreadable_row_goes_with_its_index_entries(
    tmp_path: Path, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A row that is unreadable at a load, or turns so between a request's
    load and its write: nothing is stored, a write raises
    SessionInterrupted, and the row is deleted with its index entries and
    one log line."""
    db = SQLiteDatabase(str(tmp_path / "s.db"))
    sid, other = new_id(), new_id()
    assert await db.create(sid, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, None))
    await db.index_add("tag", "tag~one", sid, None)
    assert [found for found, _ in await db.index_sessions("tag")] == ["tag~one"]
    with closing(sqlite3.connect(db.path)) as conn, conn:
        conn.execute("UPDATE tornsess_sessions SET data = 'not json'")
    if call == "load":
        assert await db.load(sid) is None
    else:
        with pytest.raises(SessionInterrupted):
            if call == "commit":
                await db.commit(sid, [], 2.0, None, None)
            elif call == "rename":
                await db.rename(sid, other)
            else:
                await db.renew(sid, other, "sealed", 2.0, 3.0)
    with closing(sqlite3.connect(db.path)) as conn, conn:
        left = conn.execute(
            "SELECT (SELECT COUNT(*) FROM tornsess_sessions), "
            "(SELECT COUNT(*) FROM tornsess_users), (SELECT COUNT(*) FROM tornsess_aliases)"
        ).fetchone()
    assert left == (0, 0, 0)
    removed = [r for r in caplog.records if "unreadable SQLite session row" in r.getMessage()]
    assert len(removed) == 1
    await db.close()


def users_rows(path: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM tornsess_users").fetchone()[0]
    return count


@pytest.mark.gen_test
async def test_sqlite_an_expired_row_goes_with_its_index_entries_at_a_load(
    tmp_path: Path,
) -> None:
    """A load that finds a session expired deletes its index entries with it
    (the sweep finds only rows, so they stayed until a device list)."""
    db = SQLiteDatabase(str(tmp_path / "s.db"))
    sid = new_id()
    assert await db.create(sid, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, 2.0))
    await db.index_add("tag", "tag~one", sid, None)
    assert users_rows(db.path) == 1
    assert await db.load(sid) is None
    assert users_rows(db.path) == 0
    await db.close()


@pytest.mark.gen_test
async def test_sqlite_ids_that_are_not_utf8_text_stop_no_sweep_and_no_destroy_all(
    tmp_path: Path,
) -> None:
    """With ``keep_ids``, an id column a foreign writer made non-UTF-8 text:
    the sweep and destroy_all still run and report only real ids."""
    db = SQLiteDatabase(str(tmp_path / "s.db"), keep_ids=True)
    expired, live, other = new_id(), new_id(), new_id()
    assert await db.create(expired, Record({}, frozenset(), {}, 1.0, 1.0, None, 2.0))
    with closing(sqlite3.connect(db.path)) as conn, conn:
        set_column(conn, "sid", NotUtf8(b"\xff\xfe"))
    assert await db.create(live, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, None))
    assert await db.create(other, Record({}, frozenset(), {}, 1.0, 1.0, None, None))
    with closing(sqlite3.connect(db.path)) as conn, conn:
        conn.execute(
            "UPDATE tornsess_sessions SET sid = CAST(? AS TEXT) WHERE sid = ?",
            (b"\x80", live),
        )
    reported: list[str] = []
    db.set_expire_listener(reported.append)
    assert await db.sweep() == 1
    assert reported == []
    loaded = await db.load(live)
    assert loaded is not None and loaded.values == {"a": "1"}
    assert await db.destroy_all() == [other]
    await db.close()


@pytest.mark.gen_test
async def test_sqlite_corrupt_values_are_ignored_and_logged(
    serve: Callable[..., Browser], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = SQLiteDatabase(str(tmp_path / "s.db"))
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.post("/set", {"a": "kept", "b": "x", "c": "y"})).json()["id"]
    with closing(sqlite3.connect(db.path)) as conn, conn:
        data = json.loads(conn.execute("SELECT data FROM tornsess_sessions").fetchone()[0])
        data["v"]["b"] = 5  # not codec text
        data["v"]["c"] = "garbage that is no codec value"
        data["f"]["bad"] = None
        conn.execute("UPDATE tornsess_sessions SET data = ?", (json.dumps(data),))
    response = await browser.get("/get", cookie=f"{COOKIE}={sid}")
    assert response.code == 200
    assert response.json()["id"] == sid
    assert response.json()["values"] == {"a": "kept"}
    messages = [r.getMessage() for r in caplog.records if r.name == "tornsess"]
    assert any("'b'" in m for m in messages) and any("'c'" in m for m in messages)
    # Still writable: a commit keeps the readable values.
    assert (await browser.get("/set?key=d&value=e", cookie=f"{COOKIE}={sid}")).code == 200
    await db.close()


@pytest.mark.gen_test
@pytest.mark.parametrize("created", ["yesterday", math.inf, NotUtf8(b"\xff1")])
async def test_sqlite_unreadable_times_are_a_fresh_session(
    serve: Callable[..., Browser], tmp_path: Path, created: Any
) -> None:
    db = SQLiteDatabase(str(tmp_path / "s.db"))
    manager = Sessions()
    manager.use_database(db)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    with closing(sqlite3.connect(db.path)) as conn, conn:
        set_column(conn, "created", created)
    response = await browser.get("/get", cookie=f"{COOKIE}={sid}")
    assert response.code == 200 and response.json()["is_new"] is True
    await db.close()


# -- keys ----------------------------------------------------------------------------


def test_decode_key_is_strict_base64url() -> None:
    key = generate_key()
    assert len(decode_key(key)) == 32
    assert decode_key(key + "=") == decode_key(key) == decode_key(f" {key}\n")
    for bad in [
        "correct horse battery staple: my secret key, okay yes",
        key[:20] + " " + key[20:],
        key.replace(key[5], "+") if key[5] not in "+/" else key + "+",
        key + "/",
        "a",
        "YR",  # non-zero unused bits: no key encodes to this
        "YQ=",  # bad padding
        "",
    ]:
        with pytest.raises(ValueError):
            decode_key(bad)


def test_secretbox_refuses_a_passphrase_as_key() -> None:
    with pytest.raises(ConfigError) as info:
        SecretBoxEncoder("correct horse battery staple: my secret key, okay yes")
    assert "keygen" in str(info.value)


@pytest.mark.parametrize("shorthand", ["signed", "secretbox"])
@pytest.mark.parametrize("secret", ["x", "31 bytes is not enough, no....", b"\x00" * 31])
def test_shorthands_refuse_a_short_cookie_secret(shorthand: str, secret: str | bytes) -> None:
    app = Application([], cookie_secret=secret, sessions={"encoding": shorthand})
    with pytest.raises(ConfigError) as info:
        tornsess.sessions_for(app)
    assert info.value.field == "cookie_secret"
    assert "python -m tornsess keygen" in str(info.value)
    rotating = Application(
        [], cookie_secret={1: "x" * 40, 2: "short"}, key_version=1, sessions={"encoding": shorthand}
    )
    with pytest.raises(ConfigError):
        tornsess.sessions_for(rotating)


def test_shorthands_accept_a_32_byte_cookie_secret() -> None:
    app = Application([], cookie_secret="x" * 32, sessions={"encoding": "signed"})
    assert tornsess.sessions_for(app).config.cookie == COOKIE


# -- every store checks ids the same way ------------------------------------------

BAD_IDS = ["", "*", "?", "a\r\nFLUSHALL\r\n", "abc\r\nFLUSHALL\r\n", "x y", "é", "ü" * 10]


@pytest.mark.gen_test(timeout=60)
async def test_every_store_treats_bad_ids_as_unknown(make_db: Callable[..., Database]) -> None:
    db = make_db()
    record = Record({"a": '"b"'}, frozenset(), {}, 1.0, 1.0, None, None)
    for bad in [*BAD_IDS, "a" * 129, "a" * (1 << 20)]:
        assert await db.create(bad, record) is False, bad[:20]
        assert await db.load(bad) is None
        assert await db.exists(bad) is False
        assert await db.destroy(bad) is False
        assert await db.touch(bad, 0.0, None) is False
        with pytest.raises(SessionInterrupted):
            await db.commit(bad, [], 0.0, None, None)
        with pytest.raises(SessionInterrupted):
            await db.rename(bad, new_id())
    good = new_id()
    assert await db.create(good, record) is True
    for bad in BAD_IDS:
        with pytest.raises(SessionInterrupted):
            await db.rename(good, bad)
    assert await db.exists(good)


# -- every store call fails the same way; logging while the store is down -----------


def tornsess_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tornsess" and r.levelno >= logging.ERROR]


@pytest.mark.gen_test(timeout=60)
async def test_every_manager_method_fails_with_503_retry_after_and_a_log_line(
    serve: Callable[..., Browser], own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    manager = Sessions()
    manager.use_database(RedisDatabase(own_redis.url, timeout=0.5))
    # The default interval is 10 s; a long one keeps this test free of timing.
    manager._path.failures.interval = 3600.0
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    own_redis.kill()
    caplog.clear()
    # Without a cookie, SessionMixin.prepare makes no store call, so
    # destroy_all and destroy_by_id are the first to reach the store; the
    # expiration methods reach it through start (here without the mixin).
    for path, cookie in [
        ("/destroy-all", ""),
        (f"/destroy-by-id?id={sid}", ""),
        ("/update-first?expires=60", f"{COOKIE}={sid}"),
        ("/get", f"{COOKIE}={sid}"),
        ("/set?key=c&value=d", f"{COOKIE}={sid}"),
    ]:
        response = await browser.get(path, cookie=cookie)
        assert response.code == 503, path
        assert response.headers["Retry-After"] == "5", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert "Set-Cookie" not in response.headers, path
    for _ in range(50):
        assert (await browser.get("/get", cookie=f"{COOKIE}={sid}")).code == 503
    errors = tornsess_errors(caplog)
    assert len(errors) == 1  # the first failure, at once; the other 54 not
    assert "unavailable" in errors[0].getMessage() and "destroy" not in errors[0].getMessage()
    assert errors[0].exc_info is None
    own_redis.start()
    caplog.clear()
    for _ in range(3):
        response = await browser.get("/get", cookie="")
        assert response.code == 200
        assert (await browser.get("/destroy-all", cookie="")).code == 200
    recovered = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert len(recovered) == 1
    assert "55 failed call(s)" in recovered[0].getMessage()
    assert not tornsess_errors(caplog)
    await manager.database.close()


def test_failure_log_throttles_and_reports_recovery(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    failures = FailureLog("store", interval=10.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="tornsess")
    for second in range(26):
        now[0] = float(second)
        failures.failed(tornsess.StoreUnavailable(f"down at {second}"), "GET /")
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 3  # at 0, 10 and 20 s
    assert "down at 0" in lines[0]
    assert "down at 10" in lines[1] and "9 more failure(s)" in lines[1]
    assert "down at 20" in lines[2] and "9 more failure(s)" in lines[2]
    now[0] = 30.0
    failures.recovered()
    failures.recovered()
    back = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert back == [
        "tornsess: session store 'store' answers again after 30.0 s and 26 failed call(s)"
    ]
    # A new episode starts with an immediate line again.
    failures.failed(tornsess.StoreUnavailable("down again"), "GET /")
    assert "down again" in caplog.records[-1].getMessage()


# -- MemoryDatabase memory stays proportional to live sessions ----------------------


@pytest.mark.gen_test
async def test_memory_heap_does_not_grow_with_commits() -> None:
    now = [1000.0]
    expired: list[str] = []
    db = MemoryDatabase(clock=lambda: now[0])
    db.set_expire_listener(expired.append)
    sid = new_id()
    record = Record({}, frozenset(), {}, now[0], now[0], None, now[0] + 60)
    assert await db.create(sid, record)
    for i in range(10_000):
        await db.commit(sid, [], now[0], None, now[0] + 60 + i * 0.01)
    assert db.heap_size == 1
    # The session still expires, at its latest expiry and not before.
    now[0] += 61
    assert db.sweep() == 0 and await db.exists(sid)
    assert db.heap_size == 1
    now[0] += 100
    assert db.sweep() == 1
    assert expired == [sid]
    assert db.heap_size == 0
    # An expiry moved earlier takes effect on time.
    other = new_id()
    await db.create(other, Record({}, frozenset(), {}, now[0], now[0], None, now[0] + 600))
    await db.commit(other, [], now[0], None, now[0] + 5)
    now[0] += 6
    assert db.sweep() == 1 and expired[-1] == other
    await db.close()


@pytest.mark.gen_test
async def test_memory_heap_drops_entries_of_destroyed_sessions() -> None:
    db = MemoryDatabase()
    ids = [new_id() for _ in range(1000)]
    for sid in ids:
        await db.create(sid, Record({}, frozenset(), {}, 0.0, 0.0, None, 1e12))
    for sid in ids[1:]:
        assert await db.destroy(sid)
        await db.create(new_id(), Record({}, frozenset(), {}, 0.0, 0.0, None, 1e12))
    assert len(db) == 1000
    assert db.heap_size <= 2 * len(db) + 64
    await db.close()


@pytest.mark.gen_test
async def test_memory_heap_after_idle_traffic_over_http(serve: Callable[..., Browser]) -> None:
    db = MemoryDatabase()
    manager = Sessions(idle_timeout=3600)
    manager.use_database(db)
    browser = serve(make_app(manager))
    for i in range(300):
        assert (await browser.get(f"/incr?key=n&n=1&i={i}")).code == 200
    assert len(db) == 1
    assert db.heap_size == 1


# -- configuration errors before serving -----------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"sessions": {"cookei": "x"}}, "cookei"),
        ({"sessions": {"encoding": "rot13"}}, "encoding"),
        ({"sessions": {"encoding": "signed"}}, "cookie_secret"),
        ({"sessions": {"encoding": "secretbox"}, "cookie_secret": "short"}, "cookie_secret"),
        ({"sessions": {"idle_timeout": "soon"}}, "idle_timeout"),
        ({"sessions": {"http_only": "yes"}}, "http_only"),
        ({"sessions": {"encoding": 5}}, "encoding"),
        ({"sessions": "myapp"}, "sessions"),
    ],
)
def test_sessions_for_fails_at_start_up(settings: dict[str, Any], field: str) -> None:
    app = Application([], **settings)
    with pytest.raises(ConfigError) as info:
        tornsess.sessions_for(app)
    assert info.value.field == field


def test_sqlite_path_that_cannot_be_opened_fails_when_built(tmp_path: Path) -> None:
    for path in [tmp_path / "missing" / "s.db", tmp_path]:
        with pytest.raises(ConfigError) as info:
            SQLiteDatabase(str(path))
        assert info.value.field == "path"
        assert str(path) in str(info.value)
