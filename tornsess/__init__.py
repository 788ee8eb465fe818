"""tornsess: server-side sessions for Tornado, after the Iris sessions manager."""

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
from .database import Database, MemoryDatabase, Op, Record, UserIndex
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
    "Database",
    "DecodeError",
    "DestroyCallback",
    "Duration",
    "Encoding",
    "EntryNotFound",
    "ImmutableEntry",
    "MemoryDatabase",
    "NotSupported",
    "Op",
    "Record",
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
    "UserIndex",
    "cookie_domain",
    "cookie_expires",
    "cookie_http_only",
    "cookie_path",
    "cookie_same_site",
    "cookie_secure",
    "sessions_for",
]
