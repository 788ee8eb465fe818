"""Cookie encoders for tornsess (installed as ``tornsess.encoders``); each
implements :class:`tornsess.Encoding`.

- :class:`PlainEncoder`: the id as it is (the default).
- :class:`SignedEncoder`: signed with itsdangerous (HMAC-SHA256).
- :class:`SecretBoxEncoder`: encrypted with PyNaCl SecretBox.
- :func:`encoding_from_settings`: the ``"plain"``, ``"signed"`` and
  ``"secretbox"`` shorthands, keyed from an Application's ``cookie_secret``.
"""

from .plain import PlainEncoder
from .secretbox import SecretBoxEncoder
from .shorthands import SHORTHANDS, encoding_from_settings
from .signed import SignedEncoder

__all__ = [
    "SHORTHANDS",
    "PlainEncoder",
    "SecretBoxEncoder",
    "SignedEncoder",
    "encoding_from_settings",
]
