"""A small browser for tests: real HTTP requests, a cookie jar, parsed Set-Cookie."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

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

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
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
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.1):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

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
