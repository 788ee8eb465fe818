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
int beyond 64 bits    ``{" i": "<digits>"}``
====================  =========================================

Text written before the ``" i"`` tag existed, holding integers beyond 64
bits as JSON numbers, still reads exactly.

The text is compact JSON of the tagged form (no spaces, UTF-8), written and
read by orjson: the session path reads and writes a value or more on every
request, and the standard library's ``json`` costs about a microsecond per
scalar there (``docs/performance.rst``). orjson reads an integer beyond 64
bits as a float, so text that may hold one (19 digits in a row) is read by
the standard library's ``json`` instead. Strings must be valid Unicode (no
lone surrogates). Decoding never executes anything: it is JSON plus the
fixed table above. No pickle is used anywhere.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "loads", "SUPPORTED_TYPES"]

SUPPORTED_TYPES = (
    "None, bool, int, float, str, bytes, list, tuple, dict with str keys, "
    "datetime, date, time, Decimal, UUID"
)
"""The types a session value may have, for error messages."""

_SCALARS = (type(None), bool, str)

_LONG_NUMBER = re.compile(r"[0-9]{19}")
"""A run of digits that may be an integer beyond 64 bits (or lie in a string)."""

_INT64 = (-(2**63), 2**63 - 1)


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
    if kind is int:
        return value if _INT64[0] <= value <= _INT64[1] else {" i": str(value)}
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
    " i": lambda v: int(v),
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


def dumps(value: Any) -> str:
    """The stored text of *value*.

    :raises TypeError: *value* is, or holds, a value of an unsupported type,
        a dict key that is not a str, or is nested too deeply.
    """
    try:
        tree = _to_json(value)
    except RecursionError:
        raise TypeError("session value is nested too deeply") from None
    try:
        return orjson.dumps(tree).decode()
    except orjson.JSONEncodeError as exc:  # a lone surrogate, or nested too deeply
        raise TypeError(f"cannot store this session value: {exc}") from None


def loads(text: str) -> Any:
    """The value whose stored text (written by :func:`dumps`) is *text*.

    :raises ValueError: *text* is not stored text of a value: not JSON, or a
        tag whose payload does not decode.
    """
    try:
        tree = orjson.loads(text)
        if type(tree) is not str and _LONG_NUMBER.search(text):
            tree = json.loads(text)  # orjson reads integers beyond 64 bits as floats
        return _from_json(tree)
    except (
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        ArithmeticError,  # decimal.InvalidOperation, from a bad " n" payload
        RecursionError,
    ) as exc:
        raise ValueError(f"corrupt session value: {type(exc).__name__}: {exc}") from None
