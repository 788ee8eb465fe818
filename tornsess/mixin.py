"""SessionMixin: ``self.session`` in Tornado handlers, with the manager
taken from the Application settings."""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from tornado.web import Application, RequestHandler

from . import lifecycle
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


_PARENT_PREPARE: dict[type, bool] = {}


class _Done(tuple):  # type: ignore[type-arg]
    """An awaitable that is already done: awaiting it runs no Python code
    (its ``__await__`` is the empty tuple's C iterator)."""

    __slots__ = ()
    __await__ = tuple.__iter__


_DONE = cast("Awaitable[None]", _Done())


def _parent_prepares(cls: type) -> bool:
    """Whether a class after SessionMixin in *cls*'s MRO overrides
    ``prepare`` (RequestHandler's own does nothing, and is not called)."""
    mro = cls.__mro__
    for base in mro[mro.index(SessionMixin) + 1 :]:
        if "prepare" in base.__dict__:
            return base is not RequestHandler
    return False


if TYPE_CHECKING:
    _Base = RequestHandler
else:
    _Base = object


class SessionMixin(_Base):
    """Gives a handler ``self.session``, started in :meth:`prepare`.

    Put it before ``RequestHandler``::

        class Page(SessionMixin, RequestHandler):
            def get(self):
                self.session.increment("visits")

    A handler that overrides ``prepare`` must call ``await super().prepare()``
    first. Changes are stored before the response is sent.
    """

    # Class defaults, so that the handler's attributes are read without an
    # AttributeError and never through the instance __dict__ (reading that
    # turns the attributes into a real dict, and slows every attribute
    # access of Tornado's on the handler).
    _tornsess_manager: Sessions
    _tornsess_session: Session | None = None
    _tornsess: lifecycle.RequestState | None = None

    def prepare(self) -> Awaitable[None]:
        """Start the session (reads the cookie, loads the store).

        With a store that answers from memory the session is started before
        this returns; otherwise the returned awaitable starts it. Either way
        an override awaits it: ``await super().prepare()``.
        """
        application = self.application
        manager = getattr(application, "_tornsess_manager", None)
        if manager is None:
            manager = sessions_for(application)
        self._tornsess_manager = manager
        session = manager._start_now(self)
        if session is None:
            return self._start_and_prepare(manager)
        self._tornsess_session = session
        return self._parent_prepare() or _DONE

    async def _start_and_prepare(self, manager: Sessions) -> None:
        self._tornsess_session = await manager.start(self)
        result = self._parent_prepare()
        if result is not None:
            await result

    def _parent_prepare(self) -> Awaitable[None] | None:
        """Call the ``prepare`` of a class after SessionMixin in the MRO, if
        one overrides RequestHandler's (which does nothing)."""
        cls = type(self)
        inherits = _PARENT_PREPARE.get(cls)
        if inherits is None:
            inherits = _PARENT_PREPARE[cls] = _parent_prepares(cls)
        if not inherits:
            return None
        parent: Any = super()
        result: Awaitable[None] | None = parent.prepare()
        return result

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Future[None]:
        """Tornado's ``finish()``, after storing the request's sessions
        (the response's headers must carry their cookies)."""
        state = self._tornsess
        if state is None or state.done:
            return super().finish(chunk)
        return lifecycle.hooked_finish(self, state, chunk)

    def flush(self, include_footers: bool = False) -> Future[None]:
        """Tornado's ``flush()``; the first one stores the request's sessions
        before the headers go out."""
        state = self._tornsess
        if state is None or state.done:
            return super().flush(include_footers)
        return lifecycle.hooked_flush(self, state, include_footers)

    def _tornsess_real_finish(
        self, chunk: str | bytes | dict[str, Any] | None = None
    ) -> Future[None]:
        return super().finish(chunk)

    def _tornsess_real_flush(self, include_footers: bool = False) -> Future[None]:
        return super().flush(include_footers)

    def get_current_user(self) -> Any:
        """The user this request's session is logged in as
        (``self.session.user_id``), so that ``self.current_user`` and
        ``@tornado.web.authenticated`` work with no code. A handler that
        defines its own ``get_current_user`` keeps it."""
        session = self._tornsess_session
        if session is None or not session._live():
            session = self.sessions.get(self)
        return None if session is None else session.user_id

    @property
    def sessions(self) -> Sessions:
        """The Application's session manager."""
        try:
            return self._tornsess_manager
        except AttributeError:
            return sessions_for(self.application)

    @property
    def session(self) -> Session:
        """This request's session (a new one after a destroy and a new start).

        :raises tornsess.SessionNotFound: before ``prepare`` ran, or after
            the session was destroyed and no new one was started.
        """
        session = self._tornsess_session
        if session is not None and session._live():
            return session
        session = self.sessions.get(self)  # a new one after a destroy, or none
        self._tornsess_session = session
        if session is None:
            raise SessionNotFound(
                "no session: SessionMixin.prepare() has not run, or the session "
                "was destroyed (call `await self.sessions.start(self)` for a new one)"
            )
        return session
