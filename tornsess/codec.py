"""Type-preserving value serialization for session values.

Values are stored as compact JSON text. JSON types map to themselves; the
other supported types are written as one-key objects whose key starts with a
space (a *tag*), so they come back with their type:

====================  =========================================
type                  stored as
====================  =========================================
``None`` bool int str  JSON itself
float                 JSON number; NaN and infinities tagged
list                  JSON array
dict (str keys)       JSON object (escaped if it looks like a tag)
tuple                 ``{" t": [...]}``
bytes                 ``{" b": "<base64>"}``
datetime              ``{" dt": "<isoformat>"}`` (naive stays naive)
date                  ``{" d": "<isoformat>"}``
time                  ``{" tm": "<isoformat>"}``
Decimal               ``{" n": "<str>"}``
UUID                  ``{" u": "<hex>"}``
====================  =========================================

Decoding never executes anything: it is ``json.loads`` plus the fixed table
above. No pickle is used anywhere.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import json
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

__all__ = ["dumps", "loads", "SUPPORTED_TYPES"]

SUPPORTED_TYPES = (
    "None, bool, int, float, str, bytes, list, tuple, dict with str keys, "
    "datetime, date, time, Decimal, UUID"
)

_SCALARS = (type(None), bool, int, str)
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
_NOT_CONSTANT: Any = object()


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {" f": repr(value)}


def _dict(value: dict[Any, Any]) -> Any:
    out = {}
    for key, item in value.items():
        if type(key) is not str:
            raise TypeError(f"session dict keys must be str, not {type(key).__name__}")
        out[key] = _to_json(item)
    if len(out) == 1 and next(iter(out)).startswith(" "):
        return {" o": out}
    return out


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    float: _float,
    list: lambda v: [_to_json(i) for i in v],
    dict: _dict,
    tuple: lambda v: {" t": [_to_json(i) for i in v]},
    bytes: lambda v: {" b": base64.b64encode(v).decode("ascii")},
    _dt.datetime: lambda v: {" dt": v.isoformat()},
    _dt.date: lambda v: {" d": v.isoformat()},
    _dt.time: lambda v: {" tm": v.isoformat()},
    Decimal: lambda v: {" n": str(v)},
    uuid.UUID: lambda v: {" u": v.hex},
}


def _to_json(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        raise TypeError(
            f"cannot store a value of type {kind.__name__} in a session; "
            f"supported: {SUPPORTED_TYPES}"
        )
    return encoder(value)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    " t": lambda v: tuple(_from_json(i) for i in v),
    " b": lambda v: base64.b64decode(v),
    " dt": lambda v: _dt.datetime.fromisoformat(v),
    " d": lambda v: _dt.date.fromisoformat(v),
    " tm": lambda v: _dt.time.fromisoformat(v),
    " n": lambda v: Decimal(v),
    " u": lambda v: uuid.UUID(hex=v),
    " f": lambda v: float(v),
    " o": lambda v: {k: _from_json(i) for k, i in v.items()},
}


def _from_json(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [_from_json(i) for i in value]
    if kind is dict:
        if len(value) == 1:
            ((tag, payload),) = value.items()
            decoder = _DECODERS.get(tag)
            if decoder is not None:
                return decoder(payload)
        return {k: _from_json(i) for k, i in value.items()}
    return value


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"))`` without building a JSON
    encoder per call (``json.dumps`` does, for any non-default argument): the
    C encoder, made once. Where the C accelerator is missing, json.dumps."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return functools.partial(json.dumps, separators=(",", ":"))
    encode = make(None, None, _quote, None, ":", ",", False, False, True)

    def compact(value: Any) -> str:
        return "".join(encode(value, 0))

    return compact


compact_json = _compact_encoder()
"""Compact JSON text of *value*, as ``json.dumps(value, separators=(",",
":"))`` writes it, for values of JSON types (a value of another type raises
TypeError)."""

_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def parse_json(text: str) -> Any:
    """``json.loads(text)`` for text this package wrote: the C scanner
    directly (without json.loads' whitespace handling), and json.loads
    itself for anything else. :raises ValueError: not JSON."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, TypeError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


def dumps(value: Any) -> str:
    """Serialize *value*; raise :class:`TypeError` for an unsupported type."""
    # Fast paths, the very text json.dumps gives, without building a JSON
    # encoder per call (json.dumps does, for anything but a str).
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    try:
        return compact_json(_to_json(value))
    except RecursionError:
        raise TypeError("session value is nested too deeply") from None


def loads(text: str) -> Any:
    """Deserialize text written by :func:`dumps`.

    Raises :class:`ValueError` for text that is not valid stored data.
    """
    # Fast paths for the commonest values: true, false, null, a plain string
    # (no escapes) and a non-negative int.
    constant = _CONSTANTS.get(text, _NOT_CONSTANT)
    if constant is not _NOT_CONSTANT:
        return constant
    if text.isdigit() and text.isascii():
        return int(text)
    if text[:1] == '"' and text[-1:] == '"' and "\\" not in text and text.count('"') == 2:
        return text[1:-1]
    try:
        return _from_json(json.loads(text))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"corrupt session value: {exc}") from None
