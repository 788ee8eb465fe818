"""Cookie encoders for tornsess; each implements :class:`tornsess.Encoding`.

- :class:`PlainEncoder`: the id as it is (the default).
- :class:`SignedEncoder`: signed with itsdangerous (HMAC-SHA256).
- :class:`SecretBoxEncoder`: encrypted with PyNaCl SecretBox.
"""

from .plain import PlainEncoder
from .secretbox import SecretBoxEncoder
from .signed import SignedEncoder

__all__ = ["PlainEncoder", "SecretBoxEncoder", "SignedEncoder"]
