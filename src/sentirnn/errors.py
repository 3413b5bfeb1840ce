"""Errors users see: one sentence that says what is wrong, where, and what to do.

The CLI prints ``str(error)`` on one line and exits 1; library callers catch
``SentirnnError`` (or a child) and never need to parse a traceback.
"""

from __future__ import annotations


class SentirnnError(Exception):
    """Base class of every error sentirnn raises on purpose."""


class DataError(SentirnnError, ValueError):
    """Bad input data: unreadable file, missing column, bad row, single class."""


class ConfigError(SentirnnError, ValueError):
    """An invalid hyper-parameter or configuration value."""


class NotFittedError(SentirnnError, AttributeError):
    """A model was used before ``fit`` (or ``load``)."""


class ArtifactError(SentirnnError):
    """A model directory that is missing, truncated, tampered with or of the wrong kind."""
