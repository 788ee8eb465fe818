"""Property: every store applies a request's operations exactly as the
reference implementation (tornsess.database.apply_ops) does, all or nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tornsess import ImmutableEntry, MemoryDatabase, codec
from tornsess.database import Database, Op, Record, apply_ops
from tornsess.ids import new_id
from tornsess.sessiondb import RedisDatabase, SQLiteDatabase

KEYS = st.sampled_from(["a", "b", "c"])
VALUES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
)
AMOUNTS = st.one_of(st.integers(-1000, 1000), st.floats(-1000, 1000, allow_nan=False))
OPS = st.one_of(
    st.builds(lambda k, v: Op("set", k, codec.dumps(v)), KEYS, VALUES),
    st.builds(lambda k, v: Op("set_immutable", k, codec.dumps(v)), KEYS, VALUES),
    st.builds(lambda k: Op("delete", k), KEYS),
    st.just(Op("clear")),
    st.builds(lambda k, n: Op("incr", k, codec.dumps(n)), KEYS, AMOUNTS),
    st.builds(lambda k, v: Op("flash_set", k, codec.dumps(v)), KEYS, VALUES),
    st.builds(lambda k: Op("flash_delete", k), KEYS),
    st.just(Op("flash_clear")),
)
STATES = st.tuples(
    st.dictionaries(KEYS, VALUES, max_size=3),
    st.sets(KEYS, max_size=2),
    st.dictionaries(KEYS, VALUES, max_size=2),
)


def decoded(mapping: Any) -> dict[str, Any]:
    return {k: codec.loads(v) for k, v in dict(mapping).items()}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        type(a[k]) is type(b[k]) and (a[k] == b[k] or a[k] != a[k]) for k in a
    )


async def check(db: Database, state: Any, ops: list[Op]) -> None:
    values0, immutable0, flashes0 = state
    values = {k: codec.dumps(v) for k, v in values0.items()}
    immutable = {k for k in immutable0 if k in values}
    flashes = {k: codec.dumps(v) for k, v in flashes0.items()}
    sid = new_id()
    assert await db.create(sid, Record(values, frozenset(immutable), flashes, 1.0, 1.0, None, None))
    want_v, want_i, want_f = dict(values), set(immutable), dict(flashes)
    expected_error: type[Exception] | None = None
    try:
        apply_ops(want_v, want_i, want_f, ops)
    except (ImmutableEntry, TypeError) as exc:
        expected_error = type(exc)
        want_v, want_i, want_f = dict(values), set(immutable), dict(flashes)
    try:
        await db.commit(sid, ops, 2.0, None, None)
        error: type[Exception] | None = None
    except (ImmutableEntry, TypeError) as exc:
        error = type(exc)
    assert error == expected_error
    record = await db.load(sid)
    assert record is not None
    assert same(decoded(record.values), decoded(want_v))
    assert set(record.immutable) == want_i
    assert same(decoded(record.flashes), decoded(want_f))
    await db.destroy(sid)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis", "cluster"])
def test_stores_apply_operations_like_the_reference(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    loop = asyncio.new_event_loop()
    db: Database
    if kind == "memory":
        db = MemoryDatabase()
    elif kind == "sqlite":
        db = SQLiteDatabase(str(tmp_path / "props.db"))
    else:
        url = request.getfixturevalue("redis_url" if kind == "redis" else "cluster_url")
        db = RedisDatabase(url, prefix=f"props{uuid.uuid4().hex[:8]}:")

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(STATES, st.lists(OPS, max_size=8))
    @example(({"a": 1.5}, set(), {}), [Op("incr", "a", "0.5")])  # float stays float
    @example(({"a": 1}, set(), {}), [Op("incr", "a", "1.0")])
    @example(({"a": "x"}, set(), {}), [Op("set", "b", "1"), Op("incr", "a", "1")])
    @example(({"a": 1}, {"a"}, {}), [Op("clear"), Op("incr", "a", "2")])
    @example(({"a": 1}, {"a"}, {}), [Op("set", "b", "1"), Op("delete", "a")])
    def prop(state: Any, ops: list[Op]) -> None:
        loop.run_until_complete(check(db, state, ops))

    try:
        prop()
    finally:
        loop.run_until_complete(db.close())
        loop.close()


def test_sqlite_rows_are_compact_json_and_any_json_spacing_reads(tmp_path: Path) -> None:
    path = str(tmp_path / "rows.db")
    loop = asyncio.new_event_loop()
    db = SQLiteDatabase(path)
    sid = new_id()
    values = {"n": codec.dumps(3), "s": codec.dumps("é")}
    record = Record(values, frozenset({"n"}), {"f": codec.dumps(True)}, 1.0, 1.0, None, None)
    try:
        assert loop.run_until_complete(db.create(sid, record))
        with closing(sqlite3.connect(path)) as conn:
            (data,) = conn.execute("SELECT data FROM tornsess_sessions").fetchone()
            # The row format: compact, ASCII-only JSON (a value's own text is UTF-8).
            assert data == '{"v":{"n":"3","s":"\\"\\u00e9\\""},"i":["n"],"f":{"f":"true"}}'
            spaced = json.dumps({"v": {"n": "4"}, "i": [], "f": {}}, indent=2)
            with conn:
                conn.execute("UPDATE tornsess_sessions SET data = ?", (spaced,))
        loaded = loop.run_until_complete(db.load(sid))
        assert loaded is not None
        assert (dict(loaded.values), set(loaded.immutable), dict(loaded.flashes)) == (
            {"n": "4"},
            set(),
            {},
        )
    finally:
        loop.run_until_complete(db.close())
        loop.close()
