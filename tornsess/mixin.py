"""SessionMixin: ``self.session`` in Tornado handlers, with the manager
taken from the Application settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tornado.web import Application, RequestHandler

from .config import Config
from .encoders import encoding_from_settings
from .errors import ConfigError, SessionNotFound
from .manager import Sessions
from .session import Session

__all__ = ["SessionMixin", "sessions_for"]

SETTING = "sessions"


def sessions_for(application: Application) -> Sessions:
    """The manager of *application*, built once from its ``sessions`` setting.

    The setting may be a :class:`Sessions`, a :class:`Config` or a dict of
    Config fields; without it, a ``Sessions()`` with the defaults is used. In
    the dict, ``encoding`` may be a shorthand, ``"plain"``, ``"signed"`` or
    ``"secretbox"``: the keys come from the Application's ``cookie_secret``
    (a ``{version: secret}`` dict with ``key_version`` gives a key list for
    rotation, newest ``key_version``), each derived for its own purpose.

    :raises tornsess.ConfigError: the setting has another type or a bad field.
    """
    # getattr, not __dict__ (which would slow Tornado's attribute reads)
    manager: Sessions | None = getattr(application, "_tornsess_manager", None)
    if manager is not None:
        return manager
    setting = application.settings.get(SETTING)
    if setting is None:
        manager = Sessions()
    elif isinstance(setting, Sessions):
        manager = setting
    elif isinstance(setting, Config):
        manager = Sessions(setting)
    elif isinstance(setting, dict):
        fields = dict(setting)
        if isinstance(fields.get("encoding"), str):
            fields["encoding"] = encoding_from_settings(fields["encoding"], application.settings)
        manager = Sessions(Config.from_mapping(fields))
    else:
        raise ConfigError(
            SETTING, f"expected Sessions, Config or dict, got {type(setting).__name__}"
        )
    application._tornsess_manager = manager  # type: ignore[attr-defined]
    return manager


if TYPE_CHECKING:
    _Base = RequestHandler
else:
    _Base = object

_NOT_STARTED = (
    "no session: SessionMixin.prepare() has not run to its end. A handler that "
    "overrides prepare() must `await super().prepare()` first; put SessionMixin "
    "before RequestHandler in the bases"
)


class SessionMixin(_Base):
    """Gives a handler ``self.session``, started in :meth:`prepare`.

    Put it before ``RequestHandler``::

        class Page(SessionMixin, RequestHandler):
            def get(self):
                self.session.increment("visits")

    A handler that overrides ``prepare`` must call ``await super().prepare()``
    first. Changes are stored before the response is sent.

    On a ``tornado.websocket.WebSocketHandler`` (``class Chat(SessionMixin,
    WebSocketHandler)``) the session is started from the handshake's cookie
    and read in ``open()``, ``on_message()`` and ``on_close()``; changes are
    stored by ``await self.session.save()`` only (there is no response to
    wait for), and ``await self.session.refresh()`` reads what other requests
    stored. A session destroyed through this process's manager closes its
    WebSockets with code 1008.
    """

    # A class default, so that reading it before prepare() ran is no
    # AttributeError.
    _tornsess_session: Session | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a handler class that lists ``RequestHandler`` (or a
        subclass of it) before SessionMixin: Tornado's methods would then
        hide the mixin's, and no session would ever start.

        :raises TypeError: SessionMixin comes after RequestHandler in the MRO.
        """
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if RequestHandler in mro and mro.index(RequestHandler) < mro.index(SessionMixin):
            bases = ", ".join(base.__name__ for base in cls.__bases__)
            raise TypeError(
                f"class {cls.__name__}({bases}): put SessionMixin before "
                f"RequestHandler in the bases, as in class {cls.__name__}(SessionMixin, "
                "RequestHandler), or its prepare() never runs"
            )

    async def prepare(self) -> None:
        """Start the session (read the cookie, load it from the store), then
        run the ``prepare`` of the classes after SessionMixin, if any.
        An override calls ``await super().prepare()`` first."""
        self._tornsess_session = await self.sessions.start(self)
        result = super().prepare()  # RequestHandler's returns None
        if result is not None:
            await result

    def on_connection_close(self) -> None:
        """Tornado's hook for a closed connection; on a WebSocket, the
        session lets go of it (unsaved changes are logged)."""
        self.sessions._close_socket(self)
        super().on_connection_close()

    def get_current_user(self) -> Any:
        """The user this request's session is logged in as
        (``self.session.user_id``), so that ``self.current_user`` and
        ``@tornado.web.authenticated`` work with no code. A handler that
        defines its own ``get_current_user`` keeps it."""
        session = self.sessions.get(self)
        return None if session is None else session.user_id

    @property
    def sessions(self) -> Sessions:
        """The Application's session manager."""
        return sessions_for(self.application)

    @property
    def session(self) -> Session:
        """This request's session (a new one after a destroy and a new start).

        :raises tornsess.SessionNotFound: before ``prepare`` ran to its end,
            or after the session was destroyed and no new one was started.
        """
        session = self._tornsess_session
        if session is not None and not session.is_destroyed:
            return session
        if session is None:
            raise SessionNotFound(_NOT_STARTED)
        session = self.sessions.get(self)  # a new one after a destroy, or none
        if session is None:
            raise SessionNotFound(
                "no session: it was destroyed (call `await self.sessions.start(self)` "
                "for a new one)"
            )
        self._tornsess_session = session
        return session
