"""tornsess: server-side sessions for Tornado, after the Iris sessions manager.

This package exports what an application author uses. A store's author
finds the :class:`~tornsess.database.Database` protocol, its records and
operations in :mod:`tornsess.database`."""

from .config import BROWSER_MAX_AGE, DEFAULT_COOKIE_NAME, Config, Duration
from .cookie import (
    CookieAttributes,
    CookieOption,
    cookie_domain,
    cookie_expires,
    cookie_http_only,
    cookie_path,
    cookie_same_site,
    cookie_secure,
)
from .database import MemoryDatabase
from .encoding import Encoding, RotatingEncoding
from .errors import (
    ConfigError,
    DecodeError,
    EntryNotFound,
    ImmutableEntry,
    NotSupported,
    SessionInterrupted,
    SessionNotFound,
    SessionSealed,
    SessionTooLarge,
    StoreUnavailable,
    TornsessError,
)
from .manager import DestroyCallback, SessionInfo, Sessions
from .mixin import SessionMixin, sessions_for
from .session import Session

__version__ = "0.1.0"

__all__ = [
    "BROWSER_MAX_AGE",
    "DEFAULT_COOKIE_NAME",
    "Config",
    "ConfigError",
    "CookieAttributes",
    "CookieOption",
    "DecodeError",
    "DestroyCallback",
    "Duration",
    "Encoding",
    "EntryNotFound",
    "ImmutableEntry",
    "MemoryDatabase",
    "NotSupported",
    "RotatingEncoding",
    "Session",
    "SessionInfo",
    "SessionInterrupted",
    "SessionMixin",
    "SessionNotFound",
    "SessionSealed",
    "SessionTooLarge",
    "Sessions",
    "StoreUnavailable",
    "TornsessError",
    "cookie_domain",
    "cookie_expires",
    "cookie_http_only",
    "cookie_path",
    "cookie_same_site",
    "cookie_secure",
    "sessions_for",
]
