"""The encoder suite, through real HTTP: tampering, rotation, shorthands."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous.encoding import base64_encode
from tornado.web import Application

import tornsess
from tests.apps import Get, Set, make_app
from tests.helpers import Browser
from tornsess import ConfigError, DecodeError, Encoding, Sessions
from tornsess.encoders import PlainEncoder, SecretBoxEncoder, SignedEncoder
from tornsess.keys import decode_key, generate_key

NAME = "sid"
K1, K2, K3 = generate_key(), generate_key(), generate_key()


def make(kind: str, keys: Any = None, **kwargs: Any) -> Encoding:
    if kind == "plain":
        return PlainEncoder()
    if kind == "signed":
        return SignedEncoder(keys or K1, **kwargs)
    return SecretBoxEncoder(keys or K1)


def other_char(c: str) -> str:
    return "B" if c == "A" else "A"


def variants(kind: str, value: str, sid: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, c in enumerate(value):
        out[f"char {i} changed"] = value[:i] + other_char(c) + value[i + 1 :]
    out.update(
        {
            "truncated": value[:-1],
            "appended": value + "A",
            "padding =": value + "=",
            "padding ==": value + "==",
            "padding ===": value + "===",
            "non-ascii inserted": value[:5] + "é" + value[5:],
            "non-ascii at end": value[:-2] + "é" + value[-2:],
            "10 KB": "A" * 10240,
            "empty": "",
            "invalid base64": value[:-4] + "$%!*",
            "whitespace": value[:3] + " " + value[3:],
        }
    )
    if kind != "plain":
        encoder = make(kind)
        out["minted for another cookie name"] = encoder.encode("other", sid)
        out["unknown key"] = make(kind, K3).encode(NAME, sid)
    if kind == "signed":
        signer = SignedEncoder(K1)._signers_for(NAME)[0]

        def signed_at(ts_b64: str) -> str:
            payload = f"{sid}.{ts_b64}"
            return f"{payload}.{signer.get_signature(payload).decode()}"

        out["overflowing timestamp"] = signed_at(base64_encode(b"\xff" * 8).decode())
        out["timestamp from the future"] = signed_at(
            base64_encode(int(time.time() + 3600).to_bytes(4, "big")).decode()
        )
        out["timestamp zero"] = signed_at(base64_encode(b"\x00").decode())
    if kind == "secretbox":
        kid = value_bytes(value)[0:1]
        out["shorter than a nonce"] = b64(kid + b"\x01" * 10)
        out["shorter than a MAC"] = b64(kid + b"\x01" * 30)
        out["exactly nonce and MAC"] = b64(kid + b"\x01" * 40)
        out["invalid base64 length"] = value + "A" * 3 if len(value) % 4 == 2 else value[:-1]
    return out


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def value_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@pytest.mark.gen_test(timeout=120)
@pytest.mark.parametrize("kind", ["plain", "signed", "secretbox"])
async def test_tampered_cookies_give_a_fresh_session(
    serve: Callable[..., Browser], kind: str
) -> None:
    manager = Sessions(
        cookie=NAME, encoding=make(kind, max_age=3600) if kind == "signed" else make(kind)
    )
    browser = serve(make_app(manager))
    created = await browser.get("/set?key=a&value=b")
    sid = created.json()["id"]
    value = created.cookie(NAME)["value"]
    assert (await browser.get("/get")).json()["id"] == sid
    cases = variants(kind, value, sid)
    assert len(cases) > len(value)
    items = list(cases.items())
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        responses = await asyncio.gather(
            *(browser.get("/get", cookie=f"{NAME}={v}", keep=False) for _, v in chunk)
        )
        for (case, _), response in zip(chunk, responses, strict=True):
            assert response.code == 200, case
            body = response.json()
            assert body["is_new"] is True, case
            assert body["id"] != sid, case
            assert body["values"] == {}, case
    assert (await browser.get("/get")).json()["id"] == sid


@pytest.mark.gen_test
async def test_signed_max_age_exceeded(serve: Callable[..., Browser]) -> None:
    encoder = SignedEncoder(K1, max_age=60)
    manager = Sessions(cookie=NAME, encoding=encoder)
    browser = serve(make_app(manager))
    sid = (await browser.get("/set?key=a&value=b")).json()["id"]
    signer = encoder._signers_for(NAME)[0]
    old = signer.get_timestamp() - 120
    payload = f"{sid}.{base64_encode(old.to_bytes(4, 'big')).decode()}"
    expired = f"{payload}.{signer.get_signature(payload).decode()}"
    response = await browser.get("/get", cookie=f"{NAME}={expired}")
    assert response.json()["is_new"] is True
    fresh_enough = old + 90
    payload = f"{sid}.{base64_encode(fresh_enough.to_bytes(4, 'big')).decode()}"
    valid = f"{payload}.{signer.get_signature(payload).decode()}"
    assert (await browser.get("/get", cookie=f"{NAME}={valid}")).json()["id"] == sid


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", ["signed", "secretbox"])
async def test_key_rotation_end_to_end(serve: Callable[..., Browser], kind: str) -> None:
    old = Sessions(cookie=NAME, encoding=make(kind, K1))
    rotated = Sessions(cookie=NAME, encoding=make(kind, [K1, K2]))
    removed = Sessions(cookie=NAME, encoding=make(kind, K2))
    for manager in (rotated, removed):
        manager.use_database(old.database)
    old_app = serve(make_app(old))
    created = await old_app.get("/set?key=a&value=b")
    sid = created.json()["id"]
    old_cookie = created.cookie(NAME)["value"]

    rotated_app = serve(make_app(rotated))
    rotated_app.jar = dict(old_app.jar)
    response = await rotated_app.get("/get")
    assert response.json()["id"] == sid
    reissued = response.cookie(NAME)["value"]
    assert reissued != old_cookie
    assert make(kind, K2).decode(NAME, reissued) == sid
    quiet = await rotated_app.get("/get")
    assert quiet.set_cookies == {}  # newest key: nothing to re-issue

    removed_app = serve(make_app(removed))
    stale = await removed_app.get("/get", cookie=f"{NAME}={old_cookie}")
    assert stale.json()["is_new"] is True
    current = await removed_app.get("/get", cookie=f"{NAME}={reissued}")
    assert current.json()["id"] == sid


def test_secretbox_encodings_are_all_distinct() -> None:
    encoder = SecretBoxEncoder(K1)
    sid = tornsess.ids.new_id()
    values = {encoder.encode(NAME, sid) for _ in range(10000)}
    assert len(values) == 10000
    assert all(encoder.decode(NAME, v) == sid for v in list(values)[:100])


ids = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
    min_size=1,
    max_size=128,
)
names = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}", fullmatch=True)
ENCODERS: list[Encoding] = [
    PlainEncoder(),
    SignedEncoder([K1, K2]),
    SignedEncoder(K1, max_age=60),
    SecretBoxEncoder([K1, K2]),
]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ids, names)
def test_round_trip(session_id: str, cookie_name: str) -> None:
    for encoder in ENCODERS:
        value = encoder.encode(cookie_name, session_id)
        assert set(value) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
        )
        assert encoder.decode(cookie_name, value) == session_id


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")), names)
def test_decode_of_arbitrary_text_raises_only_decode_error(text: str, cookie_name: str) -> None:
    for encoder in ENCODERS:
        try:
            encoder.decode(cookie_name, text)
        except DecodeError:
            pass


@settings(max_examples=300, deadline=None, derandomize=True)
@given(ids, st.integers(min_value=0), st.text(min_size=1, max_size=3))
def test_mutations_of_valid_values_raise_only_decode_error(
    session_id: str, position: int, insert: str
) -> None:
    for encoder in ENCODERS[1:]:
        value = encoder.encode(NAME, session_id)
        i = position % len(value)
        for mutated in (value[:i] + insert + value[i:], value[:i] + value[i + 1 :]):
            try:
                assert encoder.decode(NAME, mutated) == session_id
                assert mutated == value  # only an identity edit may decode
            except DecodeError:
                pass


@pytest.mark.parametrize("kind", ["signed", "secretbox"])
def test_remembered_values_answer_only_their_exact_text_and_name(kind: str) -> None:
    encoder = make(kind, [K1, K2])
    assert isinstance(encoder, SignedEncoder | SecretBoxEncoder)
    sid = tornsess.ids.new_id()
    value = encoder.encode(NAME, sid)
    old = make(kind, K1).encode(NAME, sid)
    for _ in range(2):  # the second round is answered from memory
        assert encoder.decode_stale(NAME, value) == (sid, False)
        assert encoder.decode_stale(NAME, old) == (sid, True)
        with pytest.raises(DecodeError):
            encoder.decode(NAME + "x", value)  # bound to its cookie name
        for mutated in (value[:-1], value + "A", value[:-1] + other_char(value[-1])):
            with pytest.raises(DecodeError):
                encoder.decode(NAME, mutated)
    with pytest.raises(DecodeError):
        encoder.decode(NAME, [value])  # type: ignore[arg-type]  # unhashable


@pytest.mark.parametrize("kind", ["signed", "secretbox"])
def test_remembered_values_are_bounded(kind: str) -> None:
    encoder = make(kind)
    assert isinstance(encoder, SignedEncoder | SecretBoxEncoder)
    encoder.verified_cache = 3
    pairs = [(sid, encoder.encode(NAME, sid)) for sid in (f"id{i}" for i in range(5))]
    for _ in range(2):
        for sid, value in pairs:
            assert encoder.decode(NAME, value) == sid
    assert len(encoder._verified) == 3
    assert list(encoder._verified) == [value for _, value in pairs[-3:]]
    encoder.verified_cache = 0  # verify every request
    encoder._verified.clear()
    assert encoder.decode(NAME, pairs[0][1]) == pairs[0][0]
    assert encoder._verified == {}


def test_a_remembered_signed_value_still_expires_with_max_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoder = SignedEncoder(K1, max_age=60)
    value = encoder.encode(NAME, "abc")
    assert encoder.decode(NAME, value) == "abc"
    assert value in encoder._verified
    later = time.time() + 61

    class Clock:
        @staticmethod
        def time() -> float:
            return later

    monkeypatch.setattr("tornsess.encoders._keys.time", Clock)
    monkeypatch.setattr("tornsess.encoders.signed.time", Clock)
    with pytest.raises(DecodeError, match="expired"):
        encoder.decode(NAME, value)


def test_decode_rejects_non_str() -> None:
    for encoder in ENCODERS:
        with pytest.raises(DecodeError):
            encoder.decode(NAME, b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("keys", [b"short", "x" * 31, [], [b"a" * 32, 5], 42])
def test_signed_rejects_bad_keys(keys: Any) -> None:
    with pytest.raises(ConfigError) as info:
        SignedEncoder(keys)
    assert info.value.field == "keys"


@pytest.mark.parametrize(
    "keys", [b"a" * 31, b"a" * 33, "not base64 !!", "QUJD", 42, [b"a" * 32, b"b"]]
)
def test_secretbox_rejects_bad_keys(keys: Any) -> None:
    with pytest.raises(ConfigError) as info:
        SecretBoxEncoder(keys)
    assert info.value.field == "keys"


def test_secretbox_accepts_bytes_and_keygen_text() -> None:
    raw = decode_key(K1)
    assert len(raw) == 32
    text_value = SecretBoxEncoder(K1).encode(NAME, "abc")
    assert SecretBoxEncoder(raw).decode(NAME, text_value) == "abc"


def test_signed_max_age_must_be_positive() -> None:
    with pytest.raises(ConfigError) as info:
        SignedEncoder(K1, max_age=0)
    assert info.value.field == "max_age"


def test_keygen_command() -> None:
    import subprocess
    import sys

    keys = set()
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "tornsess", "keygen"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = result.stdout.strip()
        assert len(decode_key(key)) == 32
        SecretBoxEncoder(key)
        SignedEncoder(key)
        keys.add(key)
    assert len(keys) == 2
    # One key form serves both encoders, so there is no --encoder flag.
    refused = subprocess.run(
        [sys.executable, "-m", "tornsess", "keygen", "--encoder", "signed"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    help_text = subprocess.run(
        [sys.executable, "-m", "tornsess", "keygen", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "256-bit" in help_text
    assert "``" not in help_text and "`" not in help_text


@pytest.mark.gen_test
@pytest.mark.parametrize("shorthand", ["plain", "signed", "secretbox"])
async def test_shorthands_from_cookie_secret(serve: Callable[..., Browser], shorthand: str) -> None:
    app = Application(
        [(r"/get", Get), (r"/set", Set)],
        cookie_secret="a cookie secret that is long enough for anyone",
        sessions={"cookie": NAME, "encoding": shorthand},
    )
    encoding = tornsess.sessions_for(app).config.effective_encoding
    expected = {"plain": PlainEncoder, "signed": SignedEncoder, "secretbox": SecretBoxEncoder}
    assert isinstance(encoding, expected[shorthand])
    browser = serve(app)
    created = await browser.get("/set?key=a&value=b")
    sid = created.json()["id"]
    value = created.cookie(NAME)["value"]
    if shorthand != "plain":
        assert value != sid
    assert (await browser.get("/get")).json()["id"] == sid


@pytest.mark.gen_test
async def test_shorthand_keys_rotate_with_key_version(serve: Callable[..., Browser]) -> None:
    old_app = Application(
        [(r"/get", Get), (r"/set", Set)],
        cookie_secret={1: "first secret, long enough for the test"},
        key_version=1,
        sessions={"cookie": NAME, "encoding": "signed"},
    )
    new_app = Application(
        [(r"/get", Get), (r"/set", Set)],
        cookie_secret={
            1: "first secret, long enough for the test",
            2: "second secret, long enough for the test",
        },
        key_version=2,
        sessions={"cookie": NAME, "encoding": "signed"},
    )
    tornsess.sessions_for(new_app).use_database(tornsess.sessions_for(old_app).database)
    old = serve(old_app)
    sid = (await old.get("/set?key=a&value=b")).json()["id"]
    new = serve(new_app)
    new.jar = dict(old.jar)
    response = await new.get("/get")
    assert response.json()["id"] == sid
    assert NAME in response.set_cookies  # re-issued under version 2


def test_shorthand_without_cookie_secret_names_the_setting() -> None:
    for shorthand in ("signed", "secretbox"):
        app = Application(sessions={"encoding": shorthand})
        with pytest.raises(ConfigError) as info:
            tornsess.sessions_for(app)
        assert info.value.field == "cookie_secret"
    with pytest.raises(ConfigError) as info:
        tornsess.sessions_for(
            Application(cookie_secret={1: "x" * 40}, key_version=3, sessions={"encoding": "signed"})
        )
    assert info.value.field == "key_version"
    with pytest.raises(ConfigError) as info:
        tornsess.Config(encoding="signed")
    assert info.value.field == "encoding"
    with pytest.raises(ConfigError):
        tornsess.Config(encoding="rot13")
    assert isinstance(tornsess.Config(encoding="plain").effective_encoding, PlainEncoder)


def test_config_encode_decode_callables_work_like_an_encoding() -> None:
    signer = SignedEncoder(K1)
    config = tornsess.Config(encode=signer.encode, decode=signer.decode)
    value = config.effective_encoding.encode(NAME, "abc")
    assert config.effective_encoding.decode(NAME, value) == "abc"
    with pytest.raises(DecodeError):
        config.effective_encoding.decode(NAME, value + "x")


# Tokens written by SignedEncoder(KAT_KEY) (and by KAT_OLD) for the id "abc" at
# 2026-01-01T00:00:00Z: HMAC-SHA256 under HMAC-SHA256(key, salt + "\x00" +
# cookie name), base64url without padding. Cookies already issued must keep
# verifying, so these are fixed text, not values computed by the code under test.
KAT_KEY = b"tornsess test key, 32 bytes long"
KAT_OLD = b"an older tornsess key of 32 byte"
KAT_TIME = 1767225600
KAT_TOKEN = "abc.aVW5AA.fVqMlTj7QBfeMkM7P1ULMKeKq0ALen2xqr4cBmcjl9s"
KAT_OLD_TOKEN = "abc.aVW5AA.o-sEhX6UUmQW790zgGWw9USrnEzmB3uSFCy0FvTRlq8"
KAT_OTHER_SALT_TOKEN = "abc.aVW5AA.Sm6s9b0_rpPNqA6AyZw2pBNYSx6228pwaIbMQ9WXfFY"


class FixedClock:
    """A stand-in for the ``time`` module of one module under test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_signed_tokens_keep_their_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("itsdangerous.timed.time", FixedClock(KAT_TIME + 0.5))
    assert SignedEncoder(KAT_KEY).encode(NAME, "abc") == KAT_TOKEN
    assert SignedEncoder(KAT_OLD).encode(NAME, "abc") == KAT_OLD_TOKEN
    assert SignedEncoder(KAT_KEY, salt="other").encode(NAME, "abc") == KAT_OTHER_SALT_TOKEN
    encoder = SignedEncoder([KAT_OLD, KAT_KEY])
    encoder.verified_cache = 0
    assert encoder.decode_stale(NAME, KAT_TOKEN) == ("abc", False)
    assert encoder.decode_stale(NAME, KAT_OLD_TOKEN) == ("abc", True)
    for wrong in (KAT_OTHER_SALT_TOKEN, KAT_TOKEN + "=", KAT_TOKEN[:-1] + "t"):
        with pytest.raises(DecodeError):
            encoder.decode(NAME, wrong)
    with pytest.raises(DecodeError):
        encoder.decode("other", KAT_TOKEN)


def test_signed_max_age_reads_the_token_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = SignedEncoder(KAT_KEY, max_age=100)
    encoder.verified_cache = 0
    for now, answer in [
        (KAT_TIME - 61, "signature from the future"),
        (KAT_TIME - 59, "abc"),
        (KAT_TIME + 100, "abc"),
        (KAT_TIME + 101, "signature expired"),
    ]:
        monkeypatch.setattr("tornsess.encoders.signed.time", FixedClock(now))
        if answer == "abc":
            assert encoder.decode(NAME, KAT_TOKEN) == "abc"
        else:
            with pytest.raises(DecodeError, match=answer):
                encoder.decode(NAME, KAT_TOKEN)
