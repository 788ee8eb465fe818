"""Shared fixtures: real Tornado servers on loopback and a cookie-keeping client."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port
from tornado.web import Application

from tests.helpers import Browser

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true, a skipped test fails the run."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and reporter is not None:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
