"""``make bench``: what a session costs a request, against bare Tornado.

For each app (the memory store with the signed and the SecretBox encoder,
SQLite, Redis and PostgreSQL with the signed encoder, and Tornado's own
signed cookie as the peer a Tornado user already has), a server process
serves a bare handler beside the session handlers, and this process sends
keep-alive requests.
Every figure is a ratio to bare Tornado receiving a Cookie header of the same
size (no Cookie header for the anonymous request), measured in the same run:

- **instructions per request**, counted by callgrind in the server process
  (``callgrind_control`` zeroes and dumps the counters around each batch):
  the same on every run, whatever else the machine is doing;
- **wall-clock time per request** seen by the client, the median of
  interleaved rounds (noisy on a shared machine).

It starts its own ``redis-server`` (on a free loopback port, nothing kept on
disk) and its own PostgreSQL server (``initdb`` in a temporary folder, as the
``postgres`` user when run as root, ``fsync`` off), reports the bytes one
in-memory session takes among 100,000, and how the cost of the expiry sweep
grows with the number of live sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import http.client
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tornado.httputil  # noqa: E402
import tornado.routing  # noqa: E402
import tornado.web  # noqa: E402

import tornsess  # noqa: E402
from tornsess import MemoryDatabase  # noqa: E402
from tornsess.database import Record  # noqa: E402
from tornsess.ids import new_id  # noqa: E402
from tornsess.keys import generate_key  # noqa: E402

SECRET = generate_key()


class Bare(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("ok")


class Cpu(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish(repr(time.process_time()))


class Read(tornsess.SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("ok" if self.session.get("authenticated") else "anon")


class Write(tornsess.SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.session.increment("n")
        self.finish("ok")


class Login(tornsess.SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.session.set("authenticated", True)
        self.finish("ok")


class TornadoRead(tornado.web.RequestHandler):
    """Tornado's own signed cookie: the peer a Tornado user already has."""

    def get(self) -> None:
        self.finish("ok" if self.get_signed_cookie("session") else "anon")


class TornadoWrite(tornado.web.RequestHandler):
    def get(self) -> None:
        raw = self.get_signed_cookie("session")
        count = int(raw) + 1 if raw else 1
        self.set_signed_cookie("session", str(count), httponly=True, samesite="Lax")
        self.finish("ok")


class ExactPaths(tornado.routing.Router):
    """Routes by a dict lookup of the path, so that every handler costs the
    same to find (Tornado's default router tries its rules in order, a
    regular expression each: a handler further down the list would pay for
    the ones above it)."""

    def __init__(
        self, app: tornado.web.Application, table: dict[str, type[tornado.web.RequestHandler]]
    ) -> None:
        self.app = app
        self.table = table

    def find_handler(
        self, request: tornado.httputil.HTTPServerRequest, **kwargs: object
    ) -> tornado.httputil.HTTPMessageDelegate | None:
        handler = self.table.get(request.path)
        if handler is None:
            return None
        return self.app.get_handler_delegate(request, handler)


def serve(port: int, store: str, encoding: str) -> None:
    async def main() -> None:
        sessions = tornsess.Sessions()
        if store.startswith("sqlite:"):
            from tornsess.sessiondb import SQLiteDatabase

            sessions.use_database(SQLiteDatabase(store[len("sqlite:") :]))
        elif store.startswith("redis://"):
            from tornsess.sessiondb import RedisDatabase

            sessions.use_database(RedisDatabase(store))
        elif store.startswith("postgresql://"):
            from tornsess.sessiondb import PostgreSQLDatabase

            sessions.use_database(PostgreSQLDatabase(store))
        app = tornado.web.Application(
            cookie_secret=SECRET,
            sessions=sessions if encoding == "plain" else {"encoding": encoding},
        )
        table: dict[str, type[tornado.web.RequestHandler]] = {
            "/bare": Bare,
            "/cpu": Cpu,
            "/read": Read,
            "/write": Write,
            "/login": Login,
            "/tornado-read": TornadoRead,
            "/tornado-write": TornadoWrite,
        }
        app.wildcard_router.add_rules(
            [tornado.routing.Rule(tornado.routing.AnyMatches(), ExactPaths(app, table))]
        )
        if encoding != "plain":
            tornsess.sessions_for(app).use_database(sessions.database)
        app.listen(port, "127.0.0.1")
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the client side ---------------------------------------------------------------


@dataclass
class App:
    """One server configuration and the requests measured against it."""

    name: str
    store: str
    encoding: str
    read: str = "/read"
    write: str = "/write"
    login: str = "/login"
    anonymous: bool = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(app: App, valgrind_dir: str | None) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    command = [
        sys.executable,
        __file__,
        "--serve",
        str(port),
        "--store",
        app.store,
        "--encoder",
        app.encoding,
    ]
    stderr = None
    if valgrind_dir is not None:
        stderr = subprocess.DEVNULL
        command = [
            shutil.which("valgrind") or "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={valgrind_dir}/callgrind.out.%p",
            *command,
        ]
    # A fixed hash seed: the same dict layouts, so the same instruction
    # counts, from run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and file
        command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
    )
    assert server.stdout is not None
    server.stdout.readline()
    return server, port


def login(conn: http.client.HTTPConnection, path: str) -> str:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    return response.getheader("Set-Cookie", "").split(";")[0]


def send(conn: http.client.HTTPConnection, path: str, cookie: str, n: int) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status


def scenarios(app: App, cookie: str) -> dict[str, tuple[str, str]]:
    """name -> (path, Cookie header). The write request re-sends the cookie
    it started with: the session's id never changes on a write."""
    out = {
        "bare, same cookie": ("/bare", cookie),
        "read": (app.read, cookie),
        "write": (app.write, cookie),
    }
    if app.anonymous:
        out["bare, no cookie"] = ("/bare", "")
        out["anonymous"] = (app.read, "")
    return out


def measure_instructions(app: App, requests: int) -> dict[str, float]:
    control = shutil.which("callgrind_control") or "callgrind_control"
    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_server(app, tmp)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            cookie = login(conn, app.login)
            counts: dict[str, float] = {}
            for name, (path, jar) in scenarios(app, cookie).items():
                send(conn, path, jar, 20)  # warm up
                subprocess.run([control, "-z", str(server.pid)], check=True, capture_output=True)  # noqa: S603
                send(conn, path, jar, requests)
                before = set(glob.glob(f"{tmp}/callgrind.out.*"))
                subprocess.run([control, "-d", str(server.pid)], check=True, capture_output=True)  # noqa: S603
                (dump,) = set(glob.glob(f"{tmp}/callgrind.out.*")) - before
                counts[name] = _total(dump) / requests
            return counts
        finally:
            server.terminate()
            server.wait()


def _total(dump: str) -> int:
    with open(dump) as handle:
        for line in handle:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def measure_wall(app: App, requests: int, rounds: int) -> dict[str, float]:
    """Median wall-clock microseconds per request, scenarios interleaved."""
    server, port = start_server(app, None)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        cookie = login(conn, app.login)
        plan = scenarios(app, cookie)
        for path, jar in plan.values():
            send(conn, path, jar, 200)  # warm up
        samples: dict[str, list[float]] = {name: [] for name in plan}
        for _ in range(rounds):
            for name, (path, jar) in plan.items():
                started = time.perf_counter()
                send(conn, path, jar, requests)
                samples[name].append((time.perf_counter() - started) / requests * 1e6)
        return {name: statistics.median(values) for name, values in samples.items()}
    finally:
        server.terminate()
        server.wait()


def ratios(values: dict[str, float]) -> dict[str, float]:
    out = {
        "read": values["read"] / values["bare, same cookie"],
        "write": values["write"] / values["bare, same cookie"],
    }
    if "anonymous" in values:
        out["anonymous"] = values["anonymous"] / values["bare, no cookie"]
        # The same anonymous request against the baseline of the other two
        # columns (bare Tornado receiving the session's Cookie header).
        out["anonymous/cookie"] = values["anonymous"] / values["bare, same cookie"]
    return out


# -- memory and the sweep -------------------------------------------------------------


def memory_per_session(count: int, idle: bool) -> float:
    """Bytes per MemoryDatabase session of three small keys, among *count*."""
    db = MemoryDatabase()
    values = {"user": '"alice"', "role": '"admin"', "visits": "12"}
    expires = time.time() + 3600 if idle else None

    async def fill() -> None:
        for _ in range(count):
            record = Record(dict(values), frozenset(), {}, 0.0, 0.0, None, expires)
            await db.create(new_id(), record)

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    asyncio.run(fill())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    asyncio.run(db.close())
    return (after - before) / count


def sweep_cost(live: int, expired: int = 1000) -> float:
    """Milliseconds one sweep takes to remove *expired* sessions among
    *live* others (best of three)."""
    now = [1000.0]
    best = float("inf")
    for _ in range(3):
        db = MemoryDatabase(clock=lambda: now[0])

        async def fill(db: MemoryDatabase = db) -> None:
            for _ in range(live):
                await db.create(new_id(), Record({}, frozenset(), {}, 0.0, 0.0, None, 1e12))
            for _ in range(expired):
                await db.create(new_id(), Record({}, frozenset(), {}, 0.0, 0.0, None, 1500.0))

        asyncio.run(fill())
        now[0] = 2000.0
        started = time.perf_counter()
        removed = db.sweep()
        best = min(best, (time.perf_counter() - started) * 1000)
        assert removed == expired
        now[0] = 1000.0
        asyncio.run(db.close())
        del db
    return best


# -- the report ---------------------------------------------------------------------------


@contextmanager
def redis_server() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not found: no Redis figures (apt-get install redis-server)")
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(  # noqa: S603 - the machine's redis-server
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(500):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait()


def postgresql_bin() -> str | None:
    """The folder of initdb and pg_ctl: the PATH's, else Debian's newest."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return os.path.dirname(found)
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return next((f for f in folders if os.path.exists(os.path.join(f, "initdb"))), None)


@contextmanager
def postgresql_server() -> Iterator[str | None]:
    folder = postgresql_bin()
    if folder is None:
        print("initdb not found: no PostgreSQL figures (apt-get install postgresql)")
        yield None
        return
    run_as: list[str] = []
    tmp = tempfile.mkdtemp(prefix="tornsess-bench-pg-")
    if os.geteuid() == 0:  # initdb refuses to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
        run_as = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    data, port = os.path.join(tmp, "data"), free_port()

    def run(program: str, *args: str) -> None:
        subprocess.run(  # noqa: S603 - the machine's PostgreSQL
            [*run_as, os.path.join(folder, program), *args], check=True, capture_output=True
        )

    try:
        run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {tmp} -c fsync=off"
        run("pg_ctl", "-D", data, "-o", options, "-l", os.path.join(tmp, "log"), "-w", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def apps(redis_url: str | None, postgresql_dsn: str | None, sqlite_path: str) -> list[App]:
    out = [
        App("tornsess memory + signed", "memory", "signed"),
        App("tornsess memory + SecretBox", "memory", "secretbox"),
        App("tornsess SQLite + signed", f"sqlite:{sqlite_path}", "signed"),
    ]
    if redis_url is not None:
        out.append(App("tornsess Redis + signed", redis_url, "signed"))
    if postgresql_dsn is not None:
        out.append(App("tornsess PostgreSQL + signed", postgresql_dsn, "signed"))
    out.append(
        App(
            "Tornado's own signed cookie",
            "memory",
            "signed",
            read="/tornado-read",
            write="/tornado-write",
            login="/tornado-write",
            anonymous=False,
        )
    )
    return out


def table(rows: list[tuple[str, dict[str, float]]], title: str) -> None:
    print(f"\n{title}")
    print(f"  {'app':34s} {'read':>8s} {'write':>8s} {'anonymous':>10s} {'(vs cookie)':>12s}")
    for name, values in rows:
        cells = [f"{values[k]:8.3f}" if k in values else f"{'-':>8s}" for k in ("read", "write")]
        anonymous = f"{values['anonymous']:10.3f}" if "anonymous" in values else f"{'-':>10s}"
        against = values.get("anonymous/cookie")
        versus = f"{against:12.3f}" if against is not None else f"{'-':>12s}"
        print(f"  {name:34s} {cells[0]} {cells[1]} {anonymous} {versus}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="requests per wall-clock batch")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved wall-clock rounds")
    parser.add_argument(
        "--instruction-requests", type=int, default=200, help="requests per callgrind batch"
    )
    parser.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    parser.add_argument("--quick", action="store_true", help="skip the memory and sweep figures")
    parser.add_argument(
        "--only", default="", help="measure only the apps whose name contains this text (any case)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", default="memory", help=argparse.SUPPRESS)
    parser.add_argument("--encoder", default="signed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.store, args.encoder)
        return
    print(
        f"Python {sys.version.split()[0]}, Tornado {tornado.version}, tornsess "
        f"{tornsess.__version__}, {os.cpu_count()} CPU(s)"
    )
    callgrind = (
        not args.no_instructions
        and shutil.which("valgrind") is not None
        and shutil.which("callgrind_control") is not None
    )
    if not callgrind and not args.no_instructions:
        print("valgrind not found: no instruction counts (apt-get install valgrind)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_server() as redis_url,
        postgresql_server() as postgresql_dsn,
    ):
        instructions: list[tuple[str, dict[str, float]]] = []
        walls: list[tuple[str, dict[str, float]]] = []
        raw: list[tuple[str, dict[str, float]]] = []
        for app in apps(redis_url, postgresql_dsn, os.path.join(tmp, "bench.db")):
            if args.only.lower() not in app.name.lower():
                continue
            if callgrind:
                counts = measure_instructions(app, args.instruction_requests)
                raw.append((app.name, counts))
                instructions.append((app.name, ratios(counts)))
            walls.append((app.name, ratios(measure_wall(app, args.requests, args.rounds))))
    if instructions:
        table(
            instructions,
            f"instructions per request (callgrind, {args.instruction_requests} requests each), "
            "as a ratio to bare Tornado with the same Cookie header:",
        )
        print("\n  absolute instructions per request:")
        for name, counts in raw:
            parts = ", ".join(f"{k} {v:,.0f}" for k, v in counts.items())
            print(f"  {name}: {parts}")
    table(
        walls,
        f"wall-clock time per request (median of {args.rounds} interleaved rounds x "
        f"{args.requests}), as a ratio to bare Tornado (noisy on shared machines):",
    )
    if args.quick:
        return
    print("\nmemory per MemoryDatabase session of three small keys, among 100,000:")
    print(f"  no expiry:             {memory_per_session(100_000, idle=False):6.0f} bytes")
    print(f"  with an idle timeout:  {memory_per_session(100_000, idle=True):6.0f} bytes")
    print("\nthe expiry sweep: 1,000 expired sessions removed among")
    for live in (10_000, 1_000_000):
        print(f"  {live:>9,} live: {sweep_cost(live):7.2f} ms")


if __name__ == "__main__":
    main()
