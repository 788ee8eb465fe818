"""Server-side stores beyond the embedded memory store.

``RedisDatabase`` needs the ``redis`` extra (in a clone: ``pip install -e '.[redis]'``);
``PostgreSQLDatabase`` needs the ``postgresql`` extra (psycopg 3 and psycopg-pool:
``pip install -e '.[postgresql]'``); ``SQLiteDatabase`` needs nothing beyond the
standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .sqlite import SQLiteDatabase

if TYPE_CHECKING:
    from .postgresql import PostgreSQLDatabase
    from .redis import RedisDatabase

__all__ = ["PostgreSQLDatabase", "RedisDatabase", "SQLiteDatabase"]


def __getattr__(name: str) -> Any:
    if name == "RedisDatabase":
        from .redis import RedisDatabase

        return RedisDatabase
    if name == "PostgreSQLDatabase":
        from .postgresql import PostgreSQLDatabase

        return PostgreSQLDatabase
    raise AttributeError(name)
