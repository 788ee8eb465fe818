"""Sphinx configuration for the tornsess documentation."""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

sys.path.insert(0, os.path.abspath(".."))

import tornsess

project = "tornsess"
author = "the tornsess developers"
copyright = "2026, the tornsess developers"
release = version = tornsess.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"

# -- intersphinx ----------------------------------------------------------
# Links to Python, Tornado and redis-py. Each inventory is looked for, in
# order: in Debian's documentation packages (python3-doc,
# python-tornado-doc), at the project's site, and last in a small inventory
# written here of just the names these pages refer to, so the build (run
# with -W) also passes on a machine without network access. Links point at
# the projects' sites whichever inventory was read.

HERE = Path(__file__).resolve().parent
FALLBACK_DIR = HERE / "_build" / "inventories"

PYTHON_NAMES = {
    "py:class": {
        "library/collections.abc.html#$": [
            "collections.abc.Callable",
            "collections.abc.Mapping",
            "collections.abc.Sequence",
            "collections.abc.Awaitable",
        ],
        "library/datetime.html#$": ["datetime.timedelta", "datetime.datetime"],
        "library/stdtypes.html#$": ["str", "bytes", "int", "float", "dict", "list"],
        "library/functions.html#$": ["bool"],
        "library/asyncio-future.html#$": ["asyncio.Future"],
    },
    "py:exception": {
        "library/exceptions.html#$": ["KeyError", "ValueError", "TypeError", "Exception"],
    },
    "py:function": {"library/hmac.html#$": ["hmac.compare_digest"]},
    "py:module": {
        "library/secrets.html#module-$": ["secrets"],
        "library/sqlite3.html#module-$": ["sqlite3"],
        "library/pickle.html#module-$": ["pickle"],
        "library/json.html#module-$": ["json"],
        "library/logging.html#module-$": ["logging"],
    },
}
TORNADO_NAMES = {
    "py:class": {
        "web.html#$": [
            "tornado.web.RequestHandler",
            "tornado.web.Application",
            "tornado.web.HTTPError",
        ],
        "httpserver.html#$": ["tornado.httpserver.HTTPServer"],
    },
    "py:method": {
        "web.html#$": [
            "tornado.web.RequestHandler.prepare",
            "tornado.web.RequestHandler.finish",
            "tornado.web.RequestHandler.flush",
            "tornado.web.RequestHandler.set_cookie",
            "tornado.web.RequestHandler.get_current_user",
        ],
    },
    "py:function": {"web.html#$": ["tornado.web.authenticated"]},
}
REDIS_NAMES = {
    "py:class": {
        "connections.html#$": [
            "redis.asyncio.client.Redis",
            "redis.asyncio.cluster.RedisCluster",
            "redis.asyncio.connection.ConnectionPool",
        ],
    },
}


def _fallback(name: str, names: dict[str, dict[str, list[str]]]) -> str:
    """Write a Sphinx v2 inventory of *names*; return its path."""
    lines = [
        f"{target} {role} 1 {uri} -"
        for role, pages in names.items()
        for uri, targets in pages.items()
        for target in targets
    ]
    header = (
        f"# Sphinx inventory version 2\n# Project: {name}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode()
    FALLBACK_DIR.mkdir(parents=True, exist_ok=True)
    path = FALLBACK_DIR / f"{name}.inv"
    path.write_bytes(header + zlib.compress(("\n".join(lines) + "\n").encode()))
    return str(path)


def _locations(
    local: list[str], name: str, names: dict[str, dict[str, list[str]]]
) -> tuple[str | None, ...]:
    found = [path for path in local if Path(path).is_file()]
    return (*found, None, _fallback(name, names))


intersphinx_mapping = {
    "python": (
        "https://docs.python.org/3/",
        _locations(
            [f"/usr/share/doc/python3.{minor}/html/objects.inv" for minor in range(13, 9, -1)]
            + ["/usr/share/doc/python3/html/objects.inv"],
            "python",
            PYTHON_NAMES,
        ),
    ),
    "tornado": (
        "https://www.tornadoweb.org/en/stable/",
        _locations(
            ["/usr/share/doc/python-tornado-doc/html/objects.inv"], "tornado", TORNADO_NAMES
        ),
    ),
    "redis": (
        "https://redis.readthedocs.io/en/stable/",
        _locations([], "redis", REDIS_NAMES),
    ),
}
intersphinx_timeout = 5
