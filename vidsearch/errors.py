"""Typed errors. Each carries a message a user can act on; the CLI maps them to exit codes.

Every error vidsearch reports lives here, so the query service can send one by its class name and
the client raise the same class (with the same exit code) on its side.

Exit codes (1 is never an error: ``find`` exits 1 when nothing matched, and scripts read it so):
2 usage, 3 other errors (bad media, nothing could be indexed), 4 model unavailable, 5 index locked by
another writer, 6 the index's storage failed (disk full, read-only, not a file), 7 the index is
damaged, 70 an unexpected internal error.
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


class NothingIndexedError(MediaError):
    """Every video file under the paths given is bad (unreadable, not a video): none is in the index."""


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


class IndexStorageError(VidsearchError):
    """The index file cannot be read or written where it is (read-only media, not a regular file,
    an I/O error); the message names the file and what to do."""

    exit_code = 6


class DiskFullError(IndexStorageError):
    """The disk holding the index is full; what was written before is intact."""


class IndexCorruptError(VidsearchError):
    """The index file is damaged; ``vidsearch index --rebuild`` sets it aside and starts a new one."""

    exit_code = 7


class SearchIndexDamaged(VidsearchError, ValueError):
    """The compact search index beside the database disagrees with it (checksum, ids, scores).

    Never shown to a user: the store rebuilds that file from the database and searches again.
    """


class InternalError(VidsearchError):
    """Something vidsearch did not expect (a bug): one line, and VIDSEARCH_DEBUG=1 for the traceback."""

    exit_code = 70
