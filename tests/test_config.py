"""Config validation and the Application ``sessions`` setting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tornado.web import Application

import tornsess
from tests.apps import Get
from tests.helpers import Browser
from tornsess import Config, ConfigError, Sessions
from tornsess.encoders import PlainEncoder


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"same_site": "Sometimes"}, "same_site"),
        ({"same_site": "None", "cookie_secure_tls": False}, "same_site"),
        ({"cookie": "__Host-sid"}, "disable_subdomain_persistence"),
        (
            {"cookie": "__Host-sid", "disable_subdomain_persistence": True, "path": "/app"},
            "path",
        ),
        ({"idle_timeout": -1}, "idle_timeout"),
        ({"idle_timeout": "soon"}, "idle_timeout"),
        ({"expires": "never"}, "expires"),
        ({"expires": float("nan")}, "expires"),
        (
            {"encoding": PlainEncoder(), "encode": lambda n, v: v, "decode": lambda n, v: v},
            "encoding",
        ),
        ({"encode": lambda n, v: v}, "decode"),
        ({"decode": lambda n, v: v}, "encode"),
        ({"encoding": object()}, "encoding"),
        ({"cookie": "bad name"}, "cookie"),
        ({"cookie": "semi;colon"}, "cookie"),
        ({"cookie": ""}, "cookie"),
        ({"path": "no-slash"}, "path"),
        ({"path": "/a;b"}, "path"),
        ({"http_only": "yes"}, "http_only"),
        ({"session_id_generator": "not callable"}, "session_id_generator"),
    ],
)
def test_invalid_values_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_defaults() -> None:
    config = Config()
    assert config.cookie == "tornsessid"
    assert config.cookie_secure_tls is True
    assert config.allow_reclaim is False
    assert config.expires_seconds == 0
    assert config.idle_timeout_seconds is None
    assert config.same_site == "Lax"
    assert config.http_only is True
    assert config.path == "/"
    assert config.save_uninitialized is False
    assert config.disable_subdomain_persistence is False
    assert isinstance(config.effective_encoding, PlainEncoder)


def test_durations_and_normalization() -> None:
    config = Config(expires=timedelta(minutes=30), idle_timeout=90, same_site="strict")
    assert config.expires_seconds == 1800
    assert config.idle_timeout_seconds == 90
    assert config.same_site == "Strict"
    assert Config(idle_timeout=0).idle_timeout_seconds is None


def test_sessions_accepts_config_or_fields() -> None:
    assert Sessions(Config(cookie="a")).config.cookie == "a"
    assert Sessions(cookie="b").config.cookie == "b"
    with pytest.raises(ConfigError):
        Sessions(Config(), cookie="c")
    with pytest.raises(ConfigError) as info:
        Config.from_mapping({"cookies": "typo"})
    assert info.value.field == "cookies"


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "setting",
    [Sessions(cookie="from_sessions"), Config(cookie="from_config"), {"cookie": "from_dict"}],
)
async def test_application_setting_forms(serve: Callable[..., Browser], setting: Any) -> None:
    app = Application([(r"/get", Get)], sessions=setting)
    manager = tornsess.sessions_for(app)
    assert tornsess.sessions_for(app) is manager  # built once per Application
    if isinstance(setting, Sessions):
        assert manager is setting
    browser = serve(app)

    class Setter(Get):
        def get(self) -> None:
            self.session.set("a", 1)
            self.finish("ok")

    app.add_handlers(r".*", [(r"/set", Setter)])
    response = await browser.get("/set")
    assert list(response.set_cookies) == [manager.config.cookie]


def test_bad_application_setting() -> None:
    with pytest.raises(ConfigError) as info:
        tornsess.sessions_for(Application(sessions=42))
    assert info.value.field == "sessions"
    with pytest.raises(ConfigError) as info:
        tornsess.sessions_for(Application(sessions={"same_site": "bogus"}))
    assert info.value.field == "same_site"


def test_function_encoding_behaves_like_an_encoding() -> None:
    def decode(name: str, value: str) -> str:
        if not value.startswith("v1."):
            raise ValueError("bad prefix")
        return value[3:]

    config = Config(encode=lambda name, sid: "v1." + sid, decode=decode)
    encoding = config.effective_encoding
    assert encoding.decode("c", encoding.encode("c", "abc")) == "abc"
    with pytest.raises(tornsess.DecodeError):
        encoding.decode("c", "zzz")


@pytest.mark.parametrize(
    "make",
    [
        lambda: tornsess.Sessions(idle_timout=60),
        lambda: tornsess.Config(idle_timout=60),  # type: ignore[call-arg]
        lambda: tornsess.Config.from_mapping({"idle_timout": 60}),
        lambda: tornsess.sessions_for(Application(sessions={"idle_timout": 60})),
    ],
)
def test_a_misspelt_field_is_a_config_error_with_a_suggestion(make: Any) -> None:
    with pytest.raises(tornsess.ConfigError, match=r"did you mean 'idle_timeout'\?") as info:
        make()
    assert info.value.field == "idle_timout"


def test_a_field_name_far_from_any_gets_no_suggestion() -> None:
    with pytest.raises(tornsess.ConfigError) as info:
        tornsess.Config(colour="blue")  # type: ignore[call-arg]
    assert str(info.value) == "colour: not a Config field"
