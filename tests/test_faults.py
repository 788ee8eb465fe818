"""Faults of a redis-server the test controls, while requests run: SIGKILL
in the middle of a run of writes, and a restart on the same port. (SIGSTOP,
a restart without persistence, and a dead cluster master are in
test_stores.py and test_cluster.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.apps import make_app
from tests.helpers import Browser, OwnRedis, Response
from tornsess import Sessions
from tornsess.sessiondb import RedisDatabase


@pytest.mark.gen_test(timeout=120)
async def test_sigkill_during_a_run_of_writes(
    serve: Callable[..., Browser], tmp_path: Path
) -> None:
    server = OwnRedis(tmp_path, persist=True)
    try:
        db = RedisDatabase(server.url, timeout=0.5)
        manager = Sessions()
        manager.use_database(db)
        browser = serve(make_app(manager))
        await browser.get("/set?key=owner&value=alice")
        cookie = f"tornsessid={browser.jar['tornsessid']}"
        responses: list[Response] = []
        killed = asyncio.Event()

        async def writer() -> None:
            for _ in range(40):
                response = await browser.get("/incr?key=n", cookie=cookie, keep=False)
                responses.append(response)
                if len(responses) == 60 and not killed.is_set():
                    server.kill()
                    killed.set()

        await asyncio.gather(*(writer() for _ in range(4)))
        assert killed.is_set()
        codes = [r.code for r in responses]
        assert set(codes) <= {200, 503}, codes  # never a 500
        assert 200 in codes and 503 in codes
        for response in responses:
            if response.code == 503:
                assert response.headers["Retry-After"] == "5"
                assert response.set_cookies == {}
        # Everything after the kill failed, and said so.
        assert codes[-20:] == [503] * 20
        acknowledged = codes.count(200)

        server.start()  # same port, same data (every acknowledged write was fsynced)
        after = await browser.get("/get", cookie=cookie)
        assert after.code == 200, "the app reconnects by itself"
        stored = after.json()["values"]["n"]
        # Never a 200 for a write that was not stored. (A 503 whose commit
        # reached Redis just before the kill may still have counted.)
        assert stored >= acknowledged
        assert stored <= acknowledged + codes.count(503)
        assert (await browser.get("/incr?key=n", cookie=cookie)).json()["value"] == stored + 1
        await db.close()
    finally:
        server.stop()
