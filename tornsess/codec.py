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

The text is what ``json.dumps(value, separators=(",", ":"))`` writes for
the tagged form: ASCII only, no spaces. Decoding never executes anything: it
is ``json.loads`` plus the fixed table above. No pickle is used anywhere.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads", "SUPPORTED_TYPES"]

SUPPORTED_TYPES = (
    "None, bool, int, float, str, bytes, list, tuple, dict with str keys, "
    "datetime, date, time, Decimal, UUID"
)
"""The types a session value may have, for error messages."""

_SCALARS = (type(None), bool, int, str)

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
"""Writes the stored text: ``json.dumps(value, separators=(",", ":"))``,
with the encoder made once (json.dumps makes one per call for any argument
but the value)."""


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


def dumps(value: Any) -> str:
    """The stored text of *value*.

    :raises TypeError: *value* is, or holds, a value of an unsupported type,
        a dict key that is not a str, or is nested too deeply.
    """
    try:
        return _JSON.encode(_to_json(value))
    except RecursionError:
        raise TypeError("session value is nested too deeply") from None


def loads(text: str) -> Any:
    """The value whose stored text (written by :func:`dumps`) is *text*.

    :raises ValueError: *text* is not stored text of a value: not JSON, or a
        tag whose payload does not decode.
    """
    try:
        return _from_json(json.loads(text))
    except (
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        ArithmeticError,  # decimal.InvalidOperation, from a bad " n" payload
        RecursionError,
    ) as exc:
        raise ValueError(f"corrupt session value: {type(exc).__name__}: {exc}") from None
