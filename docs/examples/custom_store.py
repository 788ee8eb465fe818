"""A store of your own: the whole Database protocol over a plain dict.

It keeps everything in one process, like MemoryDatabase, but shows what each
method must do; a real store would talk to its backend where this touches
the dict, and raise tornsess.StoreUnavailable when the backend fails.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from tornsess import SessionInterrupted
from tornsess.database import Op, Record, apply_ops
from tornsess.ids import is_valid_id, store_key


@dataclasses.dataclass
class Row:
    values: dict[str, str]
    immutable: set[str]
    flashes: dict[str, str]
    created: float
    accessed: float
    deadline: float | None
    expires_at: float | None
    binding: str | None  # the login binding: a part of its own, never a value


class DictDatabase:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}  # keyed by a hash of the id, never the id

    def _live(self, session_id: str) -> Row | None:
        if not is_valid_id(session_id):  # odd ids never reach the backend
            return None
        row = self.rows.get(store_key(session_id))
        if row is not None and row.expires_at is not None and row.expires_at <= time.time():
            return None  # expired sessions are never returned
        return row

    async def load(self, session_id: str) -> Record | None:
        row = self._live(session_id)
        if row is None:
            return None
        return Record(
            dict(row.values),
            frozenset(row.immutable),
            dict(row.flashes),
            row.created,
            row.accessed,
            row.deadline,
            row.expires_at,
            row.binding,
        )

    async def create(self, session_id: str, record: Record) -> bool:
        if not is_valid_id(session_id) or self._live(session_id) is not None:
            return False  # an existing id is never overwritten
        self.rows[store_key(session_id)] = Row(
            dict(record.values),
            set(record.immutable),
            dict(record.flashes),
            record.created,
            record.accessed,
            record.deadline,
            record.expires_at,
            record.binding,
        )
        return True

    async def commit(
        self,
        session_id: str,
        ops: Sequence[Op],
        accessed: float,
        deadline: float | None,
        expires_at: float | None,
    ) -> None:
        row = self._live(session_id)
        if row is None:  # destroyed meanwhile: do not bring it back
            raise SessionInterrupted("the session was destroyed or expired")
        values, immutable, flashes = dict(row.values), set(row.immutable), dict(row.flashes)
        # Raises before anything changes; returns the binding after the ops.
        binding = apply_ops(values, immutable, flashes, ops, row.binding)
        row.values, row.immutable, row.flashes, row.binding = values, immutable, flashes, binding
        row.accessed, row.deadline, row.expires_at = accessed, deadline, expires_at

    async def touch(self, session_id: str, accessed: float, expires_at: float | None) -> bool:
        row = self._live(session_id)
        if row is None:
            return False
        row.accessed, row.expires_at = accessed, expires_at
        return True

    async def rename(self, old_id: str, new_id: str) -> bool:
        row = self._live(old_id)
        if row is None:
            raise SessionInterrupted("the session was destroyed or expired")
        if not is_valid_id(new_id) or self._live(new_id) is not None:
            return False
        del self.rows[store_key(old_id)]
        self.rows[store_key(new_id)] = row
        return True

    async def exists(self, session_id: str) -> bool:
        return self._live(session_id) is not None

    async def destroy(self, session_id: str) -> bool:
        if self._live(session_id) is None:
            return False
        del self.rows[store_key(session_id)]
        return True

    async def destroy_all(self) -> list[str]:
        self.rows.clear()
        return []  # this store keeps only hashes, so it cannot name the ids

    def set_expire_listener(self, listener: Callable[[str], None] | None) -> None:
        pass  # no sweep here, so nothing to report

    async def close(self) -> None:
        pass
