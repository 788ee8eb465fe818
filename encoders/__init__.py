"""Cookie encoders for tornsess; each implements :class:`tornsess.Encoding`."""

from .plain import PlainEncoder

__all__ = ["PlainEncoder"]
