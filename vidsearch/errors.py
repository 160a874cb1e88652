"""Typed errors. Each carries a message a user can act on; the CLI maps them to exit codes.

Every error vidsearch reports lives here, so the query service can send one by its class name and
the client raise the same class (with the same exit code) on its side.
"""

from __future__ import annotations


class VidsearchError(Exception):
    """Base of every error vidsearch reports to a user (exit code 3 unless a subclass says)."""

    exit_code = 3


class UsageError(VidsearchError):
    """The user asked for something that cannot work as given (bad path, empty query...)."""

    exit_code = 2


class QueryError(UsageError):
    """The query text cannot be searched as given (empty, too long, nothing left after filler)."""


class PlayerNotFoundError(UsageError):
    """No video player could be found."""


class MediaError(VidsearchError):
    """A file could not be used as a video. Indexing skips the file and goes on."""


class VideoOpenError(MediaError):
    """The file is not a readable video (empty, corrupt, audio-only, not a media file)."""


class DecodeError(MediaError):
    """The video opened but too many of its frames failed to decode."""


class ModelError(VidsearchError):
    """A model could not be loaded or run."""


class ModelUnavailableError(ModelError):
    """A model's weights are neither on disk nor reachable; the message names where we looked."""

    exit_code = 4


class IndexMismatchError(VidsearchError):
    """The index was built with another model (or vector size) than the one asked for."""

    exit_code = 2


class IndexLockedError(VidsearchError):
    """Another process is writing to the index."""

    exit_code = 5


class IndexVersionError(VidsearchError):
    """The index file was written by a newer vidsearch than this one."""
