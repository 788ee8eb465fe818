"""The encoder shorthands of the Application settings: ``"plain"``,
``"signed"`` and ``"secretbox"``, with keys derived from ``cookie_secret``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tornsess.encoding import Encoding
from tornsess.errors import ConfigError
from tornsess.keys import keys_from_cookie_secret

from .plain import PlainEncoder
from .secretbox import SecretBoxEncoder
from .signed import SignedEncoder

__all__ = ["SHORTHANDS", "encoding_from_settings"]

SHORTHANDS = ("plain", "signed", "secretbox")
"""The encoder names the ``encoding`` field accepts in the Application's
``sessions`` setting."""


def encoding_from_settings(shorthand: str, settings: Mapping[str, Any]) -> Encoding:
    """The encoder a shorthand (``"plain"``, ``"signed"``, ``"secretbox"``)
    names, with keys derived from the Application's ``cookie_secret``.

    :raises tornsess.ConfigError: an unknown shorthand, or no usable
        ``cookie_secret`` for a keyed one.
    """
    if shorthand == "plain":
        return PlainEncoder()
    if shorthand == "signed":
        return SignedEncoder(keys_from_cookie_secret(settings, "tornsess signed cookie"))
    if shorthand == "secretbox":
        return SecretBoxEncoder(keys_from_cookie_secret(settings, "tornsess secretbox cookie"))
    raise ConfigError(
        "encoding", f"unknown encoder shorthand {shorthand!r}; use one of {SHORTHANDS}"
    )
