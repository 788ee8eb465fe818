"""``make bench``: what a session costs a request, against bare Tornado.

Two measures, side by side in one run: server CPU time (noisy on a shared
machine) and, where valgrind is installed, the instructions the server
executes per request, counted by callgrind (repeatable to a fraction of a
percent).

A server process serves a bare handler and session handlers side by side;
this process sends keep-alive requests (all with the same Cookie header,
except the anonymous scenario) and reads the server's own CPU time
before and after each batch, so the client's cost is not counted. Scenarios
alternate in rounds and the median per-request CPU time is reported, with
the overhead as a ratio of the bare handler's cost. It also reports the
memory one small in-memory session takes.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tornado.web  # noqa: E402

import tornsess  # noqa: E402
from tornsess import Record  # noqa: E402
from tornsess.keys import generate_key  # noqa: E402


class Bare(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("ok")


class Cpu(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish(repr(time.process_time()))


class Read(tornsess.SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("ok" if self.session.get("user") else "anon")


class Write(tornsess.SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.session.increment("n")
        self.finish("ok")


class Login(tornsess.SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        self.session.set("user", "alice")
        self.finish("ok")


def serve(port: int, encoding: str) -> None:
    async def main() -> None:
        app = tornado.web.Application(
            [
                (r"/bare", Bare),
                (r"/cpu", Cpu),
                (r"/read", Read),
                (r"/write", Write),
                (r"/login", Login),
            ],
            cookie_secret=generate_key(),
            sessions={"encoding": encoding},
        )
        app.listen(port, "127.0.0.1")
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def cpu(conn: http.client.HTTPConnection) -> float:
    conn.request("GET", "/cpu")
    return float(conn.getresponse().read())


def batch(conn: http.client.HTTPConnection, path: str, cookie: str, n: int) -> float:
    headers = {"Cookie": cookie} if cookie else {}
    before = cpu(conn)
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    return (cpu(conn) - before) / n


def memory_per_session(count: int = 10000) -> float:
    db = tornsess.MemoryDatabase()
    values = {"user": '"alice"', "role": '"admin"', "visits": "12"}

    async def fill() -> None:
        for _ in range(count):
            sid = tornsess.ids.new_id()
            await db.create(sid, Record(dict(values), frozenset(), {}, 0.0, 0.0, None, None))

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    asyncio.run(fill())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


SCENARIOS = {
    "bare tornado": "/bare",
    "session read (valid cookie)": "/read",
    "session write (increment)": "/write",
    "no cookie (anonymous)": "/read",
}


def start_server(encoder: str, valgrind_dir: str | None) -> tuple[subprocess.Popen[str], int]:
    from tornado.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()
    command = [sys.executable, __file__, "--serve", str(port), "--encoder", encoder]
    stderr = None
    if valgrind_dir is not None:
        stderr = subprocess.DEVNULL
        command = [
            shutil.which("valgrind") or "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={valgrind_dir}/callgrind.out.%p",
            *command,
        ]
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and file
        command, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    assert server.stdout is not None
    server.stdout.readline()
    return server, port


def login(conn: http.client.HTTPConnection) -> str:
    conn.request("GET", "/login")
    response = conn.getresponse()
    response.read()
    return response.getheader("Set-Cookie", "").split(";")[0]


def cookie_for(name: str, cookie: str) -> str:
    return "" if name.startswith("no cookie") else cookie


def measure_cpu(args: argparse.Namespace) -> dict[str, float]:
    server, port = start_server(args.encoder, None)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        cookie = login(conn)
        samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}
        for name, path in SCENARIOS.items():  # warm up
            batch(conn, path, cookie_for(name, cookie), 200)
        for _ in range(args.rounds):
            for name, path in SCENARIOS.items():
                samples[name].append(batch(conn, path, cookie_for(name, cookie), args.requests))
        return {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    finally:
        server.terminate()
        server.wait()


def measure_instructions(args: argparse.Namespace) -> dict[str, float]:
    """Instructions the server executes per request, counted by callgrind:
    the same on every run, unlike CPU time on a shared machine."""
    import glob
    import tempfile

    control = shutil.which("callgrind_control") or "callgrind_control"
    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_server(args.encoder, tmp)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            cookie = login(conn)
            counts: dict[str, float] = {}
            for name, path in SCENARIOS.items():
                jar = cookie_for(name, cookie)
                batch_plain(conn, path, jar, 20)  # warm up
                subprocess.run(  # noqa: S603
                    [control, "-z", str(server.pid)], check=True, capture_output=True
                )
                batch_plain(conn, path, jar, args.instruction_requests)
                before = set(glob.glob(f"{tmp}/callgrind.out.*"))
                subprocess.run(  # noqa: S603
                    [control, "-d", str(server.pid)], check=True, capture_output=True
                )
                (dump,) = set(glob.glob(f"{tmp}/callgrind.out.*")) - before
                counts[name] = _total(dump) / args.instruction_requests
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


def batch_plain(conn: http.client.HTTPConnection, path: str, cookie: str, n: int) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status


def report(title: str, unit: str, values: dict[str, float]) -> None:
    bare = values["bare tornado"]
    print(title)
    for name, value in values.items():
        print(f"  {name:30s} {value:12,.1f} {unit}   overhead {(value - bare) / bare:+.1%} of bare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per CPU batch")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--encoder", default="signed", choices=("plain", "signed", "secretbox"))
    parser.add_argument(
        "--instruction-requests", type=int, default=300, help="requests per callgrind batch"
    )
    parser.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.encoder)
        return
    report(
        f"server CPU time per request ({args.encoder} encoder, memory store), "
        f"median of {args.rounds} rounds x {args.requests} (noisy on shared machines):",
        "us",
        measure_cpu(args),
    )
    if args.no_instructions:
        pass
    elif shutil.which("valgrind") and shutil.which("callgrind_control"):
        report(
            f"server instructions per request ({args.encoder} encoder, memory store), "
            f"callgrind, {args.instruction_requests} requests each (repeatable):",
            "instr",
            measure_instructions(args),
        )
    else:
        print("valgrind not found: no instruction counts (apt-get install valgrind)")
    print(f"memory per small in-memory session (3 keys): {memory_per_session():.0f} bytes")


if __name__ == "__main__":
    main()
