"""Shared fixtures: real Tornado servers on loopback and a cookie-keeping client."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port
from tornado.web import Application

from tests.helpers import Browser, OwnCluster, OwnPostgres, OwnRedis, require_redis_server
from tornsess import MemoryDatabase, Sessions
from tornsess.database import Database
from tornsess.sessiondb import PostgreSQLDatabase, RedisDatabase, SQLiteDatabase

STORES = ["memory", "sqlite", "redis", "cluster", "postgresql"]

ServeFn = Callable[..., Browser]


@pytest.fixture
def io_loop() -> Iterator[IOLoop]:
    """A fresh IOLoop per test, without the deprecated ``make_current`` that
    pytest-tornado's own fixture calls; ``gen_test`` runs the test on it."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    loop = IOLoop.current()
    yield loop
    loop.close(all_fds=True)
    asyncio.set_event_loop(None)


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[..., Browser]]:
    """``serve(app, xheaders=False)``: run *app* on a free loopback port and
    return a :class:`Browser` for it. Servers stop at the end of the test."""
    servers: list[HTTPServer] = []

    def start(app: Application, **server_options: Any) -> Browser:
        server = HTTPServer(app, **server_options)
        sock, port = bind_unused_port()
        server.add_sockets([sock])
        servers.append(server)
        return Browser(f"http://127.0.0.1:{port}")

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store a conformance test runs against."""
    return str(request.param)


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The URL of the test Redis: pytest-redis starts a real redis-server on a
    free loopback port for the test session. Without a ``redis-server``
    binary the test is skipped with how to install it (failed under CI)."""
    require_redis_server()
    proc = request.getfixturevalue("redis_proc")
    return f"redis://{proc.host}:{proc.port}/0"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    """A real 3-master Redis Cluster on loopback, for the whole test session."""
    require_redis_server()
    cluster = OwnCluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_url(request: pytest.FixtureRequest) -> str:
    """The ``redis+cluster://`` URL of the session's Redis Cluster."""
    cluster: OwnCluster = request.getfixturevalue("redis_cluster")
    return cluster.url


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[OwnPostgres]:
    """A real PostgreSQL server on a free loopback port, for the whole test
    session (its own initdb in a temporary folder, removed afterwards).
    Without PostgreSQL's binaries the tests that need it are skipped with
    how to install them (failed under CI)."""
    server = OwnPostgres()
    yield server
    server.remove()


@pytest.fixture
def postgresql_dsn(postgresql_server: OwnPostgres) -> str:
    """The DSN of the test session's PostgreSQL server."""
    return postgresql_server.dsn


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A PostgreSQL server of this test alone, which it may pause, stop and restart."""
    server = OwnPostgres()
    yield server
    server.remove()


@pytest.fixture
def own_redis(tmp_path: Any) -> Iterator[OwnRedis]:
    """A redis-server of this test alone, which it may pause, kill and restart."""
    server = OwnRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def make_db(
    store_kind: str, io_loop: IOLoop, tmp_path: Any, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Database]]:
    """``make_db(**options)``: a fresh store of the parametrized kind (a real
    SQLite file, a real Redis with its own key prefix, a real PostgreSQL
    with its own tables), closed afterwards."""
    created: list[Database] = []

    def make(sweep_interval: float = 60.0) -> Database:
        db: Database
        if store_kind == "memory":
            db = MemoryDatabase(sweep_interval=sweep_interval)
        elif store_kind == "sqlite":
            db = SQLiteDatabase(  # ids kept: the suite checks on_destroy for expiries
                str(tmp_path / f"sessions{len(created)}.db"),
                sweep_interval=sweep_interval,
                keep_ids=True,
            )
        elif store_kind == "redis":
            url = request.getfixturevalue("redis_url")
            db = RedisDatabase(url, prefix=f"test{uuid.uuid4().hex[:12]}:")
        elif store_kind == "postgresql":
            dsn = request.getfixturevalue("postgresql_dsn")
            db = PostgreSQLDatabase(
                dsn, table=f"test{uuid.uuid4().hex[:12]}", sweep_interval=sweep_interval
            )
        else:
            url = request.getfixturevalue("cluster_url")
            db = RedisDatabase(url, prefix=f"test{uuid.uuid4().hex[:12]}:")
        created.append(db)
        return db

    yield make
    for db in created:
        io_loop.run_sync(db.close)


@pytest.fixture
def sessions_factory(make_db: Callable[..., Database]) -> Callable[..., Sessions]:
    """``sessions_factory(**config)``: a Sessions on a fresh store of the
    parametrized kind."""

    def make(*args: Any, **kwargs: Any) -> Sessions:
        manager = Sessions(*args, **kwargs)
        manager.use_database(make_db())
        return manager

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true, a skipped test fails the run."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and reporter is not None:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
