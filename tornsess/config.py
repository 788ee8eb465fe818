"""Config: every setting of a :class:`~tornsess.Sessions` manager, validated
at construction."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Union

from .encoders import SHORTHANDS, PlainEncoder
from .encoding import Encoding, FunctionEncoding
from .errors import ConfigError

if TYPE_CHECKING:
    from tornado.web import RequestHandler

__all__ = ["Config", "Duration", "DEFAULT_COOKIE_NAME", "BROWSER_MAX_AGE"]

Duration = Union[float, int, _dt.timedelta]
"""A length of time: a :class:`datetime.timedelta` or a number of seconds."""

DEFAULT_COOKIE_NAME = "tornsessid"
BROWSER_MAX_AGE = 400 * 24 * 3600
"""The longest cookie lifetime browsers keep (RFC 6265bis): 400 days."""

# RFC 6265 cookie-name: an RFC 7230 token.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A cookie Path: visible ASCII but ";" and "," (RFC 6265 allows ",", but
# intermediaries that fold Set-Cookie headers split on it).
_PATH_RE = re.compile(r"/[\x21-\x2b\x2d-\x3a\x3c-\x7e]*")
_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def _seconds(field: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ConfigError(field, f"expected a timedelta or a number of seconds, got {value!r}")
    if not math.isfinite(seconds):
        raise ConfigError(field, f"must be finite, got {value!r}")
    return seconds


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of a :class:`~tornsess.Sessions` manager.

    Field names follow the Iris ``sessions.Config`` (in snake case), plus the
    tornsess additions ``idle_timeout``, ``same_site``, ``http_only``,
    ``path`` and ``save_uninitialized``. Every value is checked here;
    an invalid one raises :class:`tornsess.ConfigError` naming the field.
    """

    cookie: str = DEFAULT_COOKIE_NAME
    """Name of the session cookie."""

    cookie_secure_tls: bool = True
    """Mark the cookie ``Secure`` whenever ``request.protocol`` is https
    (which honours ``xheaders=True`` behind a proxy)."""

    allow_reclaim: bool = False
    """Writing or deleting the session cookie also updates the request's
    cookies, so a later ``get_cookie`` in the same request sees it."""

    encode: Callable[[str, str], str] | None = None
    """``encode(cookie_name, session_id) -> cookie_value``; needs ``decode``."""

    decode: Callable[[str, str], str] | None = None
    """``decode(cookie_name, cookie_value) -> session_id``; needs ``encode``."""

    encoding: Encoding | str | None = None
    """An :class:`~tornsess.Encoding` for the cookie value; the default is
    :class:`tornsess.encoders.PlainEncoder`. Exclusive with ``encode``/``decode``. In
    the Application settings it may also be a shorthand, ``"plain"``,
    ``"signed"`` or ``"secretbox"``, whose keys are derived from the
    Application's ``cookie_secret``."""

    expires: Duration = 0
    """Absolute lifetime. ``0``: none (the cookie gets the browser maximum,
    400 days); negative: a browser-session cookie (no Max-Age); positive:
    the session dies that long after creation, enforced by the server and
    written as the cookie's Max-Age."""

    session_id_generator: Callable[[RequestHandler], str] | None = None
    """``generator(handler) -> id`` for new sessions. Ids must be 1 to 128
    characters of ``[A-Za-z0-9._-]``; the default is
    ``secrets.token_urlsafe(32)``."""

    disable_subdomain_persistence: bool = False
    """``False``: the cookie's Domain is the registrable domain of the request
    host, so subdomains share the session (IPs, ``localhost``, single-label
    hosts and public suffixes still get a host-only cookie). ``True``: always
    host-only."""

    idle_timeout: Duration | None = None
    """The session dies after this long without a request (``None`` or 0:
    never). Activity extends it; the store is touched at most once per tenth
    of the timeout."""

    same_site: str | None = "Lax"
    """``"Lax"``, ``"Strict"``, ``"None"`` (needs ``cookie_secure_tls``), or
    ``None`` to omit the attribute."""

    http_only: bool = True
    """Mark the cookie ``HttpOnly`` (hidden from JavaScript)."""

    path: str = "/"
    """The cookie's Path."""

    save_uninitialized: bool = False
    """Store every new session and send its cookie even while it holds no
    data (the Iris behaviour). Off by default, so anonymous traffic creates
    nothing."""

    record_client: bool = False
    """At ``Session.login``, record the client's ``remote_ip`` (which honours
    ``xheaders``) and User-Agent (cut to 256 characters) with the session,
    for device lists (``Sessions.user_sessions``). Off by default: they are
    personal data."""

    header: str | None = None
    """Carry the session token in this request and response header (say
    ``"X-Session-Token"``) instead of a cookie, for APIs: the token is the
    encoded id, exactly what the cookie would hold (``Session.token``). No
    cookie is read or set; a response that creates, regenerates or re-keys
    the session sends the new token in the header, one that destroys it
    sends the header empty, and ``Vary`` names the header. The cookie name
    (``cookie``) still binds the keyed encoders' tokens."""

    renew_after: Duration | None = None
    """Give a session a new id once its id is this old (counted from when
    the id was issued: the session's creation, a login, a regenerate or the
    last renewal), so that an id that leaked stops working; ``None``: never.
    The renewing response sends the new id; values, the login and the
    handle carry over. Needs a store that renews (every bundled one)."""

    renew_grace: Duration = 30
    """For this long after a renewal, the old id still names the renewed
    session: requests sent in parallel with the renewing one read and write
    it, and their responses send the new id, so that nobody is logged out by
    a renewal. After it, the old id is unknown. 0: no window. At most
    ``renew_after``. A login or a regenerate never leaves a window."""

    def __new__(cls, *args: Any, **fields: Any) -> Config:
        # Check the names before the dataclass's __init__ sees them: a typo
        # is a ConfigError with a suggestion, not a bare TypeError.
        check_field_names(fields)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.header is not None and (
            not isinstance(self.header, str) or not _TOKEN_RE.fullmatch(self.header)
        ):
            raise ConfigError("header", f"not a valid header name: {self.header!r}")
        if not isinstance(self.cookie, str) or not _TOKEN_RE.fullmatch(self.cookie):
            raise ConfigError("cookie", f"not a valid cookie name: {self.cookie!r}")
        if not isinstance(self.path, str) or not _PATH_RE.fullmatch(self.path):
            raise ConfigError(
                "path",
                f"must start with '/' and hold only visible ASCII other than ';' and ','"
                f": {self.path!r}",
            )
        same_site = self.same_site
        if same_site is not None:
            if not isinstance(same_site, str) or same_site.lower() not in _SAME_SITE:
                raise ConfigError(
                    "same_site",
                    f"must be 'Lax', 'Strict', 'None' or None, got {same_site!r}",
                )
            same_site = _SAME_SITE[same_site.lower()]
            set_(self, "same_site", same_site)
        if same_site == "None" and not self.cookie_secure_tls:
            raise ConfigError(
                "same_site",
                "SameSite=None needs Secure: set cookie_secure_tls=True",
            )
        if self.cookie.startswith("__Host-"):
            if self.path != "/":
                raise ConfigError("path", "a __Host- cookie must have Path=/")
            if not self.disable_subdomain_persistence:
                raise ConfigError(
                    "disable_subdomain_persistence",
                    "a __Host- cookie cannot carry a Domain; set "
                    "disable_subdomain_persistence=True",
                )
        expires = _seconds("expires", self.expires)
        idle = _seconds("idle_timeout", self.idle_timeout, allow_none=True)
        if idle is not None and idle < 0:
            raise ConfigError("idle_timeout", f"must not be negative, got {idle}")
        set_(self, "_expires", expires)
        set_(self, "_idle", idle or None)
        renew = _seconds("renew_after", self.renew_after, allow_none=True)
        grace = _seconds("renew_grace", self.renew_grace)
        assert grace is not None
        if renew is not None and renew <= 0:
            raise ConfigError("renew_after", f"must be positive (or None), got {renew}")
        if grace < 0:
            raise ConfigError("renew_grace", f"must not be negative, got {grace}")
        if renew is not None and grace > renew:
            raise ConfigError(
                "renew_grace",
                f"must not be longer than renew_after ({renew:g} s), got {grace:g} s: "
                "an id would be renewed again while its predecessor still answers",
            )
        set_(self, "_renew", renew)
        set_(self, "_grace", grace)
        for flag in (
            "cookie_secure_tls",
            "allow_reclaim",
            "disable_subdomain_persistence",
            "http_only",
            "save_uninitialized",
            "record_client",
        ):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(flag, f"must be a bool, got {getattr(self, flag)!r}")
        if self.session_id_generator is not None and not callable(self.session_id_generator):
            raise ConfigError("session_id_generator", "must be callable")
        set_(self, "_encoding", self._build_encoding())

    def _build_encoding(self) -> Encoding:
        if self.encoding is not None:
            if self.encode is not None or self.decode is not None:
                raise ConfigError("encoding", "give either encoding or encode/decode, not both")
            if isinstance(self.encoding, str):
                return self._shorthand(self.encoding)
            if not isinstance(self.encoding, Encoding):
                raise ConfigError(
                    "encoding",
                    f"{self.encoding!r} has no encode(name, id) / decode(name, value)",
                )
            return self.encoding
        if (self.encode is None) != (self.decode is None):
            missing = "decode" if self.decode is None else "encode"
            raise ConfigError(missing, "encode and decode must be given together")
        if self.encode is not None and self.decode is not None:
            if not callable(self.encode) or not callable(self.decode):
                raise ConfigError("encode", "encode and decode must be callable")
            return FunctionEncoding(self.encode, self.decode)
        return PlainEncoder()

    @staticmethod
    def _shorthand(name: str) -> Encoding:
        if name == "plain":
            return PlainEncoder()
        if name in SHORTHANDS:
            raise ConfigError(
                "encoding",
                f"the {name!r} shorthand derives its keys from the Application's "
                f"cookie_secret, so it only works in Application(sessions={{...}}); "
                f"elsewhere pass an encoder with keys",
            )
        raise ConfigError(
            "encoding", f"unknown encoder shorthand {name!r}; use one of {SHORTHANDS}"
        )

    @property
    def expires_seconds(self) -> float:
        """``expires`` in seconds."""
        return self._expires  # type: ignore[attr-defined,no-any-return]

    @property
    def idle_timeout_seconds(self) -> float | None:
        """``idle_timeout`` in seconds, or ``None`` when there is none."""
        return self._idle  # type: ignore[attr-defined,no-any-return]

    @property
    def renew_after_seconds(self) -> float | None:
        """``renew_after`` in seconds, or ``None`` when ids are not renewed."""
        return self._renew  # type: ignore[attr-defined,no-any-return]

    @property
    def renew_grace_seconds(self) -> float:
        """``renew_grace`` in seconds."""
        return self._grace  # type: ignore[attr-defined,no-any-return]

    @property
    def effective_encoding(self) -> Encoding:
        """The :class:`~tornsess.Encoding` in use (built from the fields)."""
        return self._encoding  # type: ignore[attr-defined,no-any-return]

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Config:
        """Build a Config from a dict of field names (as in Application settings).

        :raises tornsess.ConfigError: for an unknown field name.
        """
        check_field_names(values)
        return cls(**values)


def check_field_names(names: Iterable[str]) -> None:
    """Refuse a name that is not a :class:`Config` field, suggesting the
    closest field where one is close (``idle_timout``: did you mean
    ``idle_timeout``?).

    :raises tornsess.ConfigError: a name is not a Config field.
    """
    known = [field.name for field in dataclasses.fields(Config)]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(str(name), f"not a Config field{hint}")
