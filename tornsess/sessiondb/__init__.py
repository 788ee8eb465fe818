"""Server-side stores beyond the embedded memory store.

``RedisDatabase`` needs the ``redis`` extra (in a clone: ``pip install -e '.[redis]'``);
``SQLiteDatabase`` needs nothing beyond the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .sqlite import SQLiteDatabase

if TYPE_CHECKING:
    from .redis import RedisDatabase

__all__ = ["RedisDatabase", "SQLiteDatabase"]


def __getattr__(name: str) -> Any:
    if name == "RedisDatabase":
        from .redis import RedisDatabase

        return RedisDatabase
    raise AttributeError(name)
