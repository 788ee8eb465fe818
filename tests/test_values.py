"""Session values: types, copies, typed getters, counters, immutables."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.apps import Base, make_app
from tests.helpers import Browser
from tornsess import EntryNotFound, ImmutableEntry, Sessions, codec

SAMPLES: dict[str, Any] = {
    "none": None,
    "true": True,
    "int": 42,
    "big": 10**40,
    "neg": -7,
    "float": 1.25,
    "inf": math.inf,
    "str": "héllo ✓",
    "empty": "",
    "bytes": b"\x00\xffraw",
    "list": [1, "two", [3.0]],
    "tuple": (1, (2, "3")),
    "dict": {"a": {"b": [1, 2]}, " x": 1},
    "tagdict": {" t": [1]},
    "naive": dt.datetime(2026, 1, 2, 3, 4, 5, 6),
    "aware": dt.datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    ),
    "date": dt.date(2026, 11, 25),
    "time": dt.time(23, 59, 1, 5),
    "decimal": Decimal("3.140"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "nested": {"when": [dt.date(2020, 1, 1), (Decimal("1"), b"x")]},
}


def serve_run(
    serve: Callable[..., Browser],
    run: Callable[[Base], Any],
    sessions_factory: Callable[..., Sessions],
) -> Browser:
    return serve(make_app(sessions_factory(), run=run))


@pytest.mark.gen_test
async def test_every_supported_type_round_trips_through_requests(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
) -> None:
    def run(h: Base) -> Any:
        if h.session.is_new:
            for key, value in SAMPLES.items():
                h.session.set(key, value)
            return "stored"
        wrong = []
        for key, value in SAMPLES.items():
            got = h.session.get(key)
            if got != value or type(got) is not type(value):
                wrong.append(key)
        return {"wrong": wrong, "keys": h.session.keys()}

    browser = serve_run(serve, run, sessions_factory)
    assert (await browser.get("/run")).json() == "stored"
    assert (await browser.get("/run")).json() == {"wrong": [], "keys": list(SAMPLES)}


@pytest.mark.gen_test
async def test_unsupported_types_raise_type_error_at_set(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    class Custom:
        pass

    bad: list[Any] = [
        {1, 2},
        Custom(),
        {1: "int key"},
        [object()],
        frozenset(),
        bytearray(b"x"),
    ]

    def run(h: Base) -> Any:
        errors = []
        for value in bad:
            try:
                h.session.set("k", value)
            except TypeError as exc:
                errors.append(str(exc))
        return {"errors": len(errors), "len": len(h.session)}

    browser = serve_run(serve, run, sessions_factory)
    response = await browser.get("/run")
    assert response.json() == {"errors": len(bad), "len": 0}
    assert response.set_cookies == {}


@pytest.mark.gen_test
async def test_mutating_a_returned_value_does_not_change_the_session(
    sessions_factory: Callable[..., Sessions],
    serve: Callable[..., Browser],
) -> None:
    def run(h: Base) -> Any:
        s = h.session
        if s.is_new:
            original = {"items": [1, 2]}
            s.set("d", original)
            original["items"].append(99)
            s.set_immutable("l", [1, 2])
            return "stored"
        d = s.get("d")
        d["items"].append(3)
        lst = s.get("l")
        lst.append(3)
        s.get_all()["d"]["items"].append(4)
        return {"d": s.get("d"), "l": s.get("l")}

    browser = serve_run(serve, run, sessions_factory)
    await browser.get("/run")
    assert (await browser.get("/run")).json() == {"d": {"items": [1, 2]}, "l": [1, 2]}


@pytest.mark.gen_test
async def test_typed_getters_convert_as_documented(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    def run(h: Base) -> Any:
        s = h.session
        for key, value in {
            "s": "abc",
            "n": "3",
            "neg": "-12",
            "f": 3.9,
            "i": 7,
            "b": True,
            "bs": "false",
            "fs": "0.1",
            "big": 2**70,
            "none": None,
            "dec": Decimal("2.5"),
            "huge": 1e300,
        }.items():
            s.set(key, value)
        checks: list[tuple[str, Callable[[], Any], Any]] = [
            ("get_string str", lambda: s.get_string("s"), "abc"),
            ("get_string int", lambda: s.get_string("i"), "7"),
            ("get_string float", lambda: s.get_string("f"), "3.9"),
            ("get_int numeric str", lambda: s.get_int("n"), 3),
            ("get_int negative str", lambda: s.get_int("neg"), -12),
            ("get_int float truncates", lambda: s.get_int("f"), 3),
            ("get_int decimal", lambda: s.get_int("dec"), 2),
            ("get_int64 big", lambda: s.get_int("big"), 2**70),
            ("get_float64 str full precision", lambda: s.get_float64("fs"), 0.1),
            ("get_float64 int", lambda: s.get_float64("i"), 7.0),
            ("get_float32", lambda: s.get_float32("fs"), 0.10000000149011612),
            ("get_boolean", lambda: s.get_boolean("b"), True),
            ("get_boolean str", lambda: s.get_boolean("bs"), False),
            ("string default on bool", lambda: s.get_string_default("b", "d"), "d"),
            ("int default missing", lambda: s.get_int_default("missing", 7), 7),
            ("int default bad", lambda: s.get_int_default("s", 5), 5),
            ("int64 default too big", lambda: s.get_int64_default("big", 1), 1),
            ("float32 default overflow", lambda: s.get_float32_default("huge", 2.0), 2.0),
            ("float64 default none", lambda: s.get_float64_default("none", 1.5), 1.5),
            ("bool default int", lambda: s.get_boolean_default("i", True), True),
        ]
        raising: list[tuple[str, Callable[[], Any], type[Exception]]] = [
            ("missing", lambda: s.get_int("missing"), EntryNotFound),
            ("missing is KeyError", lambda: s.get_string("missing"), KeyError),
            ("int of word", lambda: s.get_int("s"), ValueError),
            ("bool is not an int", lambda: s.get_int("b"), TypeError),
            ("int of None", lambda: s.get_int("none"), TypeError),
            ("int64 range", lambda: s.get_int64("big"), ValueError),
            ("float of bool", lambda: s.get_float64("b"), TypeError),
            ("float32 overflow", lambda: s.get_float32("huge"), ValueError),
            ("boolean of int", lambda: s.get_boolean("i"), TypeError),
            ("boolean of word", lambda: s.get_boolean("s"), ValueError),
            ("string of bool", lambda: s.get_string("b"), TypeError),
            ("getitem missing", lambda: s["missing"], KeyError),
        ]
        failures = [name for name, call, want in checks if call() != want]
        for name, call, exc in raising:
            try:
                call()
                failures.append(name)
            except exc:
                pass
        return failures

    browser = serve_run(serve, run, sessions_factory)
    assert (await browser.get("/run")).json() == []


@pytest.mark.gen_test
async def test_increment_and_decrement(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    def run(h: Base) -> Any:
        s = h.session
        out: dict[str, Any] = {
            "inc_missing": s.increment("a", 2),
            "dec_missing": s.decrement("b", 2),
            "inc_again": s.increment("a"),
            "float": s.increment("c", 0.5),
        }
        s.set("word", "abc")
        s.set("flag", True)
        for key in ("word", "flag"):
            for method in (s.increment, s.decrement):
                try:
                    method(key, 1)
                    out[f"{key}-{method.__name__}"] = "no error"
                except TypeError:
                    pass
        return out

    browser = serve_run(serve, run, sessions_factory)
    assert (await browser.get("/run")).json() == {
        "inc_missing": 2,
        "dec_missing": -2,
        "inc_again": 3,
        "float": 0.5,
    }


@pytest.mark.gen_test
async def test_immutable_entries(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    def run(h: Base) -> Any:
        s = h.session
        if s.is_new:
            s.set_immutable("role", "admin")
            return "stored"
        refused = []
        attempts: list[tuple[str, Callable[[], Any]]] = [
            ("set", lambda: s.set("role", "user")),
            ("delete", lambda: s.delete("role")),
            ("increment", lambda: s.increment("role")),
        ]
        for name, call in attempts:
            try:
                call()
            except ImmutableEntry:
                refused.append(name)
        before = s.get("role")
        s.set_immutable("role", "owner")
        return {"refused": refused, "before": before, "after": s.get("role")}

    browser = serve_run(serve, run, sessions_factory)
    await browser.get("/run")
    result = (await browser.get("/run")).json()
    assert result == {
        "refused": ["set", "delete", "increment"],
        "before": "admin",
        "after": "owner",
    }
    assert (await browser.get("/get")).json()["values"] == {"role": "owner"}


@pytest.mark.gen_test
async def test_mapping_protocol_and_delete(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    def run(h: Base) -> Any:
        s = h.session
        s["a"] = 1
        s.set("b", 2)
        out = {"in": "a" in s, "len": len(s), "len_method": s.len(), "a": s["a"], "iter": list(s)}
        del s["a"]
        out["deleted_missing"] = s.delete("zzz")
        out["deleted"] = s.delete("b")
        out["after"] = s.get_all()
        return out

    browser = serve_run(serve, run, sessions_factory)
    assert (await browser.get("/run")).json() == {
        "in": True,
        "len": 2,
        "len_method": 2,
        "a": 1,
        "iter": ["a", "b"],
        "deleted_missing": False,
        "deleted": True,
        "after": {},
    }


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.datetimes()
    | st.dates()
    | st.times()
    | st.decimals(allow_nan=False)
    | st.uuids(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(values)
def test_codec_round_trip_keeps_value_and_type(value: Any) -> None:
    assert _same(codec.loads(codec.dumps(value)), value)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(min_value=0) | st.integers(), st.integers() | st.floats(allow_nan=False))
def test_the_memory_stores_integer_increment_adds_as_the_codec_does(
    current: int, amount: int | float
) -> None:
    from tornsess.database import _add

    expected = codec.dumps(current + amount)
    assert _add(codec.dumps(current), codec.dumps(amount), "n") == expected
    assert _add(None, codec.dumps(amount), "n") == codec.dumps(0 + amount)


# The stored text of values, as stores hold it: the format of existing data,
# which must not drift (compact JSON, ASCII only, tags for the other types).
STORED_TEXT: list[tuple[Any, str]] = [
    (None, "null"),
    (True, "true"),
    (False, "false"),
    (42, "42"),
    (-7, "-7"),
    (2**63 - 1, "9223372036854775807"),
    (-(2**63), "-9223372036854775808"),
    (10**40, '{" i":"1' + "0" * 40 + '"}'),
    (-(2**64), '{" i":"-18446744073709551616"}'),
    (1.25, "1.25"),
    (3.0, "3.0"),
    (math.inf, '{" f":"inf"}'),
    (-math.inf, '{" f":"-inf"}'),
    ("", '""'),
    ("héllo ✓", '"héllo ✓"'),
    ('q " b \\ n \n t \t z \x00 \u2028', '"q \\" b \\\\ n \\n t \\t z \\u0000 \u2028"'),
    ("a 19-digit run 1234567890123456789", '"a 19-digit run 1234567890123456789"'),
    (b"\x00\xffraw", '{" b":"AP9yYXc="}'),
    ([1, "two", [3.0]], '[1,"two",[3.0]]'),
    ((1, (2, "3")), '{" t":[1,{" t":[2,"3"]}]}'),
    ({"a": {"b": [1, 2]}, " x": 1}, '{"a":{"b":[1,2]}," x":1}'),
    ({" t": [1]}, '{" o":{" t":[1]}}'),
    (dt.datetime(2026, 1, 2, 3, 4, 5, 6), '{" dt":"2026-01-02T03:04:05.000006"}'),
    (SAMPLES["aware"], '{" dt":"2026-01-02T03:04:05+05:30"}'),
    (dt.date(2026, 11, 25), '{" d":"2026-11-25"}'),
    (dt.time(23, 59, 1, 5), '{" tm":"23:59:01.000005"}'),
    (Decimal("3.140"), '{" n":"3.140"}'),
    (SAMPLES["uuid"], '{" u":"12345678123456781234567812345678"}'),
]


@pytest.mark.parametrize(("value", "text"), STORED_TEXT)
def test_codec_writes_the_stored_format_and_reads_it_back(value: Any, text: str) -> None:
    assert codec.dumps(value) == text
    assert _same(codec.loads(text), value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"h\\u00e9llo \\u2713"', "héllo ✓"),  # ASCII-escaped, as earlier releases wrote
        ("1" + "0" * 40, 10**40),  # a plain number beyond 64 bits: exact, not a float
        (
            '[-18446744073709551616,{"a":12345678901234567890}]',
            [-(2**64), {"a": 12345678901234567890}],
        ),
    ],
)
def test_codec_reads_text_written_by_earlier_releases_exactly(text: str, value: Any) -> None:
    back = codec.loads(text)
    assert back == value
    assert type(back) is type(value)


def test_codec_refuses_a_string_that_is_not_valid_unicode() -> None:
    with pytest.raises(TypeError, match="cannot store this session value"):
        codec.dumps("lone \ud800 surrogate")


def test_codec_nan_is_tagged_and_comes_back_as_nan() -> None:
    text = codec.dumps(math.nan)
    assert text == '{" f":"nan"}'
    back = codec.loads(text)
    assert type(back) is float and math.isnan(back)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "nul",
        '"unterminated',
        "01",
        '{" n":"not a number"}',
        '{" b":5}',
        '{" b":"abc"}',
        '{" dt":"2026-13-01"}',
        '{" d":7}',
        '{" u":"zz"}',
        '{" t":5}',
        '{" o":5}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_codec_loads_of_corrupt_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="corrupt session value"):
        codec.loads(text)


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "cannot store a value of type set"),
        ([object()], "cannot store a value of type object"),
        ({1: "x"}, "dict keys must be str"),
        (_deep(100_000), "nested too deeply"),
    ],
)
def test_codec_dumps_of_unsupported_values_raises_type_error(value: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        codec.dumps(value)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_codec_loads_of_arbitrary_text_raises_only_value_error(text: str) -> None:
    try:
        codec.loads(text)
    except ValueError:
        pass


def test_codec_never_imports_pickle() -> None:
    import pathlib

    for path in pathlib.Path("tornsess").rglob("*.py"):
        source = path.read_text()
        for banned in ("import pickle", "import marshal", "import shelve", "jsonpickle"):
            assert banned not in source, (path, banned)


@pytest.mark.gen_test
async def test_session_metadata_properties(
    sessions_factory: Callable[..., Sessions], serve: Callable[..., Browser]
) -> None:
    import time

    def run(h: Base) -> Any:
        s = h.session
        if s.is_new:
            s.set_immutable("fixed", 1)
            s.set("plain", 2)
            return "stored"
        return {
            "created_ok": abs(s.created.timestamp() - time.time()) < 60,
            "aware": s.created.tzinfo is not None,
            "last_access_after_created": s.last_access >= s.created,
            "expires_at": s.expires_at is not None
            and 3500 < s.expires_at.timestamp() - time.time() <= 3600,
            "immutable": [s.is_immutable("fixed"), s.is_immutable("plain")],
            "destroyed": s.is_destroyed,
            "keys": s.keys(),
        }

    browser = serve(make_app(sessions_factory(expires=3600), run=run))
    await browser.get("/run")
    assert (await browser.get("/run")).json() == {
        "created_ok": True,
        "aware": True,
        "last_access_after_created": True,
        "expires_at": True,
        "immutable": [True, False],
        "destroyed": False,
        "keys": ["fixed", "plain"],
    }
