"""A small browser for tests: real HTTP requests, a cookie jar, parsed Set-Cookie."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Protocol

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from tornsess import SessionInterrupted
from tornsess.database import Database, Op, Record, Renewable
from tornsess.ids import new_id, open_successor, seal_successor

REDIS_HINT = (
    "install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) "
    "to run the Redis tests"
)


def require_binary(name: str, hint: str) -> str:
    """The path of the program *name*; without it, skip the test with *hint*,
    or fail it under ``CI=true``, where nothing may be skipped."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} not found on the PATH: {hint}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def require_redis_server() -> str:
    """The path of ``redis-server``, or skip (fail under CI) with how to install it."""
    return require_binary("redis-server", REDIS_HINT)


class OwnRedis:
    """A redis-server of this test alone, on a free loopback port, that the
    test may pause, kill and restart."""

    def __init__(self, workdir: Path, *, persist: bool = False) -> None:
        self.port = free_port()
        self.workdir = workdir
        # With persist, every acknowledged write is on disk (AOF, fsync
        # always) and survives a SIGKILL and restart.
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                require_redis_server(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.persist else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


POSTGRESQL_HINT = (
    "install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql; macOS: "
    "brew install postgresql) to run the PostgreSQL tests"
)


def require_postgresql() -> str:
    """The folder of PostgreSQL's ``initdb`` and ``pg_ctl`` (the PATH, then
    Debian's /usr/lib/postgresql/*/bin), or skip (fail under CI) with how to
    install them."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return os.path.dirname(found)
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    return os.path.dirname(require_binary("initdb", POSTGRESQL_HINT))


class OwnPostgres:
    """A PostgreSQL server of its own (``initdb`` in a temporary folder,
    ``pg_ctl`` on a free loopback port, nothing fsynced), that a test may
    pause, stop and restart. initdb refuses to run as root: as root, the
    server's files and processes belong to the ``postgres`` user."""

    def __init__(self) -> None:
        self.bin = require_postgresql()
        self.port = free_port()
        self.run_as: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                message = "running as root needs a 'postgres' user to run PostgreSQL as"
                if os.environ.get("CI") == "true":
                    pytest.fail(f"CI=true: {message}", pytrace=False)
                pytest.skip(message)
            self.run_as = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp_path, which only root may enter.
        self.workdir = Path(tempfile.mkdtemp(prefix="tornsess-pg-"))
        if owner is not None:
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
        self.data = self.workdir / "data"
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self.run_as, os.path.join(self.bin, program), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} "
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.workdir / "log"),
            "-w",
            "start",
        )
        _wait_for_port(self.port)

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        try:
            first = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return []
        postmaster = int(first)
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(entry))
        return [postmaster, *children]

    def signal(self, sig: int) -> None:
        """Send *sig* to every process of the server (SIGSTOP pauses it whole)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed)."""
        self.signal(signal.SIGCONT)
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server and delete its files."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


class OwnCluster:
    """A real Redis Cluster of this test session: three masters, no
    replicas, each a ``redis-server --cluster-enabled yes`` on free loopback
    ports (client and cluster bus), joined by ``redis-cli --cluster create``."""

    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.workdir = workdir
        self.ports = [free_port() for _ in range(masters)]
        self.bus_ports = [free_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * masters
        for index in range(masters):
            self.start(index)
        cli = require_binary("redis-cli", REDIS_HINT)
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ok()

    @property
    def url(self) -> str:
        """The cluster's URL, listing every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self, index: int) -> None:
        """Start (or restart, with its nodes.conf) master *index*."""
        folder = self.workdir / f"node{index}"
        folder.mkdir(exist_ok=True)
        port = self.ports[index]
        self.procs[index] = subprocess.Popen(
            [
                require_redis_server(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(self.bus_ports[index]),
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(port)

    def kill(self, index: int) -> None:
        proc = self.procs[index]
        assert proc is not None
        proc.kill()
        proc.wait()
        self.procs[index] = None

    def cli(self, index: int, *args: str) -> str:
        return subprocess.run(
            [require_binary("redis-cli", REDIS_HINT), "-p", str(self.ports[index]), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every running node reports ``cluster_state:ok``."""
        deadline = time.monotonic() + timeout
        while True:
            states = [
                "cluster_state:ok" in self.cli(index, "cluster", "info")
                for index, proc in enumerate(self.procs)
                if proc is not None
            ]
            if all(states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ready")
            time.sleep(0.1)

    def stop(self) -> None:
        for index, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                self.kill(index)


class AppProcess:
    """The test application (:mod:`tests.serve_app`) as a real subprocess on
    a free loopback port."""

    def __init__(self, store: str, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.serve_app",
                f"--port={self.port}",
                f"--store={store}",
                *args,
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else b"(no output within 30 s)"
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError(f"the app process did not start: {line!r}")

    def browser(self) -> Browser:
        return Browser(self.url)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _wait_for_port(port: int) -> None:
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.1):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (closed again: the caller binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Response:
    """An HTTP response with its body as text and its Set-Cookie headers parsed."""

    def __init__(self, raw: HTTPResponse) -> None:
        self.raw = raw
        self.code = raw.code
        self.headers = raw.headers
        self.text = raw.body.decode("utf-8", "replace") if raw.body else ""
        self.set_cookies: dict[str, dict[str, Any]] = {}
        self.set_cookie_lines = raw.headers.get_list("Set-Cookie")
        for line in self.set_cookie_lines:
            jar: SimpleCookie = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                attrs: dict[str, Any] = {"value": morsel.value}
                for key in ("path", "domain", "max-age", "expires", "samesite"):
                    if morsel[key]:
                        attrs[key] = morsel[key]
                attrs["secure"] = bool(morsel["secure"])
                attrs["httponly"] = bool(morsel["httponly"])
                attrs["line"] = line
                self.set_cookies[name] = attrs

    def json(self) -> Any:
        return json.loads(self.text)

    def cookie(self, name: str) -> dict[str, Any]:
        return self.set_cookies[name]


def _deleting(attrs: dict[str, Any]) -> bool:
    if attrs["value"] == "":
        return True
    if "max-age" in attrs:  # Max-Age wins over Expires (RFC 6265 5.3)
        return int(attrs["max-age"]) <= 0
    if "expires" in attrs:
        return parsedate_to_datetime(attrs["expires"]).timestamp() < time.time()
    return False


class Browser:
    """Sends real requests to one server and keeps the cookies it is sent
    (by name only: enough for these tests)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar: dict[str, str] = {}
        self.client = AsyncHTTPClient()

    def fork(self) -> Browser:
        """A second browser on the same server with a copy of this jar."""
        other = Browser(self.base_url)
        other.jar = dict(self.jar)
        return other

    async def request(
        self,
        path: str,
        *,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        cookie: str | None = None,
        keep: bool = True,
    ) -> Response:
        """``cookie`` replaces the jar's Cookie header with the given raw text."""
        all_headers = dict(headers or {})
        if cookie is not None:
            all_headers["Cookie"] = cookie
        elif self.jar:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        raw = await self.client.fetch(
            self.base_url + path,
            method=method,
            body=body,
            headers=all_headers,
            raise_error=False,
            follow_redirects=False,
        )
        response = Response(raw)
        if keep:
            for name, attrs in response.set_cookies.items():
                if _deleting(attrs):
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = attrs["value"]
        return response

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request(path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return await self.request(
            path, method="POST", body=body if body is not None else "", **kwargs
        )


class RenewingStore(Database, Renewable, Protocol):
    """A store that renews ids (every bundled one)."""

    async def rename(self, old_id: str, new_id: str, issued: float | None = None) -> bool:
        """:meth:`Renewable.rename`, which serves as :meth:`Database.rename`."""
        ...


async def renew(db: Renewable, old: str, new: str, grace: float = 30.0) -> bool | str:
    """Renew *old* to *new* in store *db*, with a grace window of *grace*
    seconds."""
    now = time.time()
    return await db.renew(old, new, seal_successor(old, new), now, now + grace)


async def race_two_renewals(
    stores: tuple[Renewable, Renewable], old: str, release: Callable[[], object]
) -> str:
    """Renew *old* on both *stores* at once, while the caller holds a lock
    that both wait on, then *release* it: one renews, the other is given
    the winner's sealed id. The winner's new id."""
    ids = [new_id(), new_id()]
    racing = [
        asyncio.ensure_future(renew(db, old, new)) for db, new in zip(stores, ids, strict=True)
    ]
    await asyncio.sleep(0.3)
    assert not any(task.done() for task in racing)
    release()
    results = await asyncio.gather(*racing)
    assert results.count(True) == 1
    winner = ids[results.index(True)]
    loser = results[1 - results.index(True)]
    assert isinstance(loser, str) and open_successor(old, loser) == winner
    return winner


async def outlive_a_grace_window(db: RenewingStore) -> tuple[str, str]:
    """Renew a new session (``{"a": "1"}``) with a grace window of 0.3 s and
    wait the window out: the old id then names nothing for any call
    (checked). The old and the new id."""
    old, new = new_id(), new_id()
    assert await db.create(old, Record({"a": "1"}, frozenset(), {}, 1.0, 1.0, None, None))
    assert await renew(db, old, new, grace=0.3) is True
    loaded = await db.load(old)
    assert loaded is not None and loaded.successor is not None
    await asyncio.sleep(0.5)
    assert await db.load(old) is None and not await db.exists(old)
    with pytest.raises(SessionInterrupted):
        await db.commit(old, [Op("set", "a", "2")], 5.0, None, None)
    assert not await db.touch(old, 5.0, None) and not await db.destroy(old)
    return old, new
