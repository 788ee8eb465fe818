"""``make bench``: what a session costs a request, against bare Tornado.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="requests per batch")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--encoder", default="signed", choices=("plain", "signed", "secretbox"))
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.encoder)
        return
    from tornado.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and file
        [sys.executable, __file__, "--serve", str(port), "--encoder", args.encoder],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/login")
        response = conn.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie", "").split(";")[0]
        scenarios = {
            "bare tornado": ("/bare", cookie),
            "session read (valid cookie)": ("/read", cookie),
            "session write (increment)": ("/write", cookie),
            "no cookie (anonymous)": ("/read", ""),
        }
        samples: dict[str, list[float]] = {name: [] for name in scenarios}
        for path, jar in scenarios.values():  # warm up
            batch(conn, path, jar, 200)
        for _ in range(args.rounds):
            for name, (path, jar) in scenarios.items():
                samples[name].append(batch(conn, path, jar, args.requests))
        bare = statistics.median(samples["bare tornado"])
        print(
            f"server CPU per request ({args.encoder} encoder, memory store), "
            f"median of {args.rounds} rounds x {args.requests}:"
        )
        for name, values in samples.items():
            median = statistics.median(values)
            overhead = (median - bare) / bare
            print(f"  {name:30s} {median * 1e6:8.1f} us   overhead {overhead:+.1%} of bare")
        print(f"memory per small in-memory session (3 keys): {memory_per_session():.0f} bytes")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
