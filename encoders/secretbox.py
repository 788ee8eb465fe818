"""The SecretBox encoder: the session id encrypted and authenticated with
PyNaCl's SecretBox (XSalsa20-Poly1305)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import nacl.exceptions
import nacl.secret
import nacl.utils

from tornsess.errors import ConfigError, DecodeError
from tornsess.ids import MAX_ID_LENGTH, is_valid_id
from tornsess.keys import decode_key

from ._keys import KeyedEncoder, KeyInput, key_list

__all__ = ["SecretBoxEncoder"]

_NONCE = nacl.secret.SecretBox.NONCE_SIZE
_MAC = nacl.secret.SecretBox.MACBYTES
_MIN_RAW = 1 + _NONCE + _MAC + 1
_MAX_TEXT = 4 * (1 + _NONCE + _MAC + 256 + 2 * MAX_ID_LENGTH) // 3 + 4


def _key_id(key: bytes) -> int:
    return hashlib.sha256(b"tornsess key id\x00" + key).digest()[0]


class SecretBoxEncoder(KeyedEncoder):
    """Encrypts the session id with PyNaCl's SecretBox: a fresh random nonce
    for every encode, the cookie name authenticated together with the id
    inside the box, and base64url output without padding.

    :param keys: a 32-byte key (bytes, or the text ``python -m tornsess
        keygen`` prints) or a list of them, **oldest first**: the last key
        encrypts, every key decrypts. A one-byte key id in front of the box
        picks the key without trial decryption. A cookie made with an older
        key is re-issued under the newest in the same response.

    The client can read nothing of the id, and any change to the value is
    rejected by the Poly1305 tag.

    :raises tornsess.ConfigError: a key of the wrong size or type.
    """

    def __init__(self, keys: KeyInput) -> None:
        boxes: list[tuple[int, nacl.secret.SecretBox]] = []
        raws: list[bytes] = []
        for item in key_list("keys", keys):
            if isinstance(item, str):
                try:
                    raw = decode_key(item)
                except ValueError as exc:
                    raise ConfigError("keys", str(exc)) from None
            else:
                raw = item
            if len(raw) != nacl.secret.SecretBox.KEY_SIZE:
                raise ConfigError(
                    "keys",
                    f"SecretBox keys are {nacl.secret.SecretBox.KEY_SIZE} bytes, got "
                    f"{len(raw)} (generate one with `python -m tornsess keygen`)",
                )
            boxes.append((_key_id(raw), nacl.secret.SecretBox(raw)))
            raws.append(raw)
        super().__init__(raws)
        self._newest = boxes[-1]
        self._boxes = list(reversed(boxes))

    def encode(self, cookie_name: str, session_id: str) -> str:
        """Encrypt *session_id*, bound to *cookie_name*, with the newest key."""
        key_id, box = self._newest
        plaintext = cookie_name.encode("utf-8") + b"\x00" + session_id.encode("ascii")
        sealed = bytes([key_id]) + bytes(box.encrypt(plaintext, nacl.utils.random(_NONCE)))
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def _decode(self, cookie_name: str, cookie_value: str) -> tuple[str, bool, float | None]:
        if type(cookie_value) is not str or len(cookie_value) > _MAX_TEXT:
            raise DecodeError("not a SecretBox value")
        if not cookie_value.isascii() or "=" in cookie_value:
            raise DecodeError("not canonical base64url")
        try:
            raw = base64.urlsafe_b64decode(cookie_value + "=" * (-len(cookie_value) % 4))
        except (binascii.Error, ValueError):
            raise DecodeError("invalid base64") from None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != cookie_value:
            raise DecodeError("not canonical base64url")
        if len(raw) < _MIN_RAW:
            raise DecodeError("too short for a box")
        key_id, sealed = raw[0], raw[1:]
        for index, (candidate_id, box) in enumerate(self._boxes):
            if candidate_id != key_id:
                continue
            try:
                plaintext = box.decrypt(sealed)
            except nacl.exceptions.CryptoError:
                continue
            name, sep, session_id = plaintext.partition(b"\x00")
            if not sep or not hmac.compare_digest(name, cookie_name.encode("utf-8")):
                raise DecodeError("box made for another cookie")
            text = session_id.decode("ascii")
            if not is_valid_id(text):
                raise DecodeError("not a session id")
            return text, index != 0, None
        raise DecodeError("no key opens this box")

    def __repr__(self) -> str:
        return f"SecretBoxEncoder(<{len(self._boxes)} key(s)>)"
