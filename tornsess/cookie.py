"""The session cookie: its attributes, cookie options, the Domain rule and
reading every value a request sent under the cookie's name."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import Duration, _seconds
from .errors import ConfigError

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

__all__ = [
    "CookieAttributes",
    "CookieOption",
    "MAX_COOKIE_VALUE",
    "cookie_domain",
    "cookie_expires",
    "cookie_http_only",
    "cookie_path",
    "cookie_same_site",
    "cookie_secure",
    "registrable_domain",
]

MAX_COOKIE_VALUE = 4096
"""Cookie values longer than this are not decoded at all (browsers refuse
cookies over 4096 bytes anyway)."""

MAX_CANDIDATES = 4
"""At most this many distinct values under the session cookie's name are
checked; a request that sends more gets a fresh session (cookie tossing
cannot push the real cookie past the check)."""


@dataclasses.dataclass
class CookieAttributes:
    """The attributes of one session cookie write or delete.

    Cookie options receive this object and change it in place.
    ``max_age`` is seconds; ``None`` means a browser-session cookie.
    """

    path: str
    domain: str | None
    secure: bool
    http_only: bool
    same_site: str | None
    max_age: float | None


CookieOption = Callable[[CookieAttributes], None]
"""A callable that adjusts the attributes of the session cookie."""


def cookie_path(path: str) -> CookieOption:
    """Option: set the cookie's Path (deletions use it too).

    :raises tornsess.ConfigError: *path* does not start with ``/``, or holds
        a character that cannot stand in the attribute (``;``, ``,``,
        whitespace, a control or non-ASCII character).
    """
    from .config import _PATH_RE

    if not isinstance(path, str) or not _PATH_RE.fullmatch(path):
        raise ConfigError(
            "cookie_path",
            f"must start with '/' and hold only visible ASCII other than ';' and ',': {path!r}",
        )

    def option(attrs: CookieAttributes) -> None:
        attrs.path = path

    return option


def cookie_domain(domain: str | None) -> CookieOption:
    """Option: set the cookie's Domain (``None``: host-only).

    A leading dot is dropped and the name lowercased.

    :raises tornsess.ConfigError: *domain* is not a host name of ASCII
        letters, digits, hyphens and dots (``;``, ``,``, whitespace and
        control characters included; write internationalized names in
        punycode), or it is an IP literal, a single label such as
        ``localhost``, or a public suffix such as ``co.uk`` (browsers refuse
        cookies for those; use ``None`` for a host-only cookie).
    """
    normalized = None if domain is None else _valid_domain(domain)

    def option(attrs: CookieAttributes) -> None:
        attrs.domain = normalized

    return option


_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _valid_domain(domain: object) -> str:
    """*domain* normalized, or ConfigError if it cannot be a cookie Domain."""
    if not isinstance(domain, str):
        raise ConfigError("cookie_domain", f"must be a str or None, not {type(domain).__name__}")
    name = domain[1:] if domain.startswith(".") else domain
    name = name.lower()
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise ConfigError(
            "cookie_domain",
            f"not a host name (ASCII letters, digits, '-' and '.' only): {domain!r}",
        )
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ConfigError("cookie_domain", f"an IP address cannot be a cookie Domain: {domain!r}")
    if len(labels) < 2 or _psl().privatesuffix(name) is None:  # type: ignore[attr-defined]
        raise ConfigError(
            "cookie_domain",
            f"{domain!r} is a public suffix or a single label; browsers refuse cookies "
            "for it (use None for a host-only cookie)",
        )
    return name


def cookie_same_site(same_site: str | None) -> CookieOption:
    """Option: set SameSite to ``"Lax"``, ``"Strict"``, ``"None"`` or omit it."""
    from .config import _SAME_SITE

    value = (
        None
        if same_site is None
        else _SAME_SITE.get(same_site.lower())
        if isinstance(same_site, str)
        else None
    )
    if same_site is not None and value is None:
        raise ConfigError(
            "cookie_same_site", f"must be 'Lax', 'Strict', 'None' or None, got {same_site!r}"
        )

    def option(attrs: CookieAttributes) -> None:
        attrs.same_site = value
        if value == "None":
            attrs.secure = True

    return option


def cookie_http_only(http_only: bool = True) -> CookieOption:
    """Option: set or clear HttpOnly."""

    def option(attrs: CookieAttributes) -> None:
        attrs.http_only = http_only

    return option


def cookie_secure(secure: bool = True) -> CookieOption:
    """Option: set or clear Secure regardless of the request's protocol."""

    def option(attrs: CookieAttributes) -> None:
        attrs.secure = secure

    return option


def cookie_expires(expires: Duration) -> CookieOption:
    """Option: the cookie's lifetime in the browser only (``<0``: session
    cookie, ``0``: the browser maximum). The server-side lifetime is set by
    ``Config.expires`` and ``update_expiration``."""
    seconds = _seconds("expires", expires)
    assert seconds is not None

    def option(attrs: CookieAttributes) -> None:
        attrs.max_age = browser_max_age(seconds)

    return option


def browser_max_age(seconds: float) -> float | None:
    """The Max-Age for a lifetime as ``Config.expires`` reads it."""
    from .config import BROWSER_MAX_AGE

    if seconds < 0:
        return None
    if seconds == 0:
        return float(BROWSER_MAX_AGE)
    return float(min(max(1, math.ceil(seconds)), BROWSER_MAX_AGE))


@functools.lru_cache(maxsize=1)
def _psl() -> object:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str | None:
    """The registrable domain of *host* by the Public Suffix List.

    ``None`` (a host-only cookie) for IP literals, ``localhost``, single-label
    hosts and hosts that are themselves public suffixes.
    """
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if "." not in host or host == "localhost" or host.endswith(".localhost"):
        return None
    if any(c in host for c in ';, \t\r\n"\\'):
        return None
    domain: str | None = _psl().privatesuffix(host)  # type: ignore[attr-defined]
    return domain


def request_cookie_values(request: HTTPServerRequest, name: str) -> list[str]:
    """Every value the request sent for cookie *name*, in order, deduplicated.

    Reads each ``Cookie`` header line (Tornado would join several lines with
    ``,`` and corrupt the value) and keeps duplicate names, which Tornado's
    parser collapses. The name is matched exactly (case-sensitive).
    """
    values: list[str] = []
    for header in request.headers.get_list("Cookie"):
        if name not in header:
            continue
        for chunk in header.split(";"):
            key, sep, value = chunk.partition("=")
            if sep and key.strip() == name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                if value not in values:
                    values.append(value)
    return values
