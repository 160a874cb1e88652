"""Where vidsearch keeps its files and what the environment asks of it: the one place that reads
``VIDSEARCH_*``, the Hugging Face cache variables and the platform's user folders.

Everything is read when asked, not at import, so a test (or a long-running service) that changes the
environment sees the change. The rules:

* index: ``--db``, else ``$VIDSEARCH_DB``, else ``index.db`` in the user data folder;
* user data folder: the platform's (``~/.local/share/vidsearch`` on Linux, ``$XDG_DATA_HOME``
  honoured); user cache folder likewise (``~/.cache/vidsearch``);
* query service socket: ``$VIDSEARCH_SOCKET`` (in a private subfolder when its folder is shared),
  else a folder under ``$XDG_RUNTIME_DIR`` named after
  the data folder (separate data folders get separate services), else ``<data>/run/service.sock``;
* Hugging Face hub cache: ``cache_dir`` when given, else ``$HF_HUB_CACHE``, ``$HUGGINGFACE_HUB_CACHE``,
  ``$HF_HOME/hub``, ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub``;
* offline: ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set to 1/true/yes/on (any other value,
  such as ``0`` or ``false``, means online).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

APP = "vidsearch"

ENV_DB = "VIDSEARCH_DB"
ENV_SOCKET = "VIDSEARCH_SOCKET"
ENV_PLAYER = "VIDSEARCH_PLAYER"
ENV_DEBUG = "VIDSEARCH_DEBUG"
ENV_NO_SERVICE = "VIDSEARCH_NO_SERVICE"
ENV_AUTOSERVE = "VIDSEARCH_AUTOSERVE"
ENV_SERVE_IDLE = "VIDSEARCH_SERVE_IDLE"

# How long a query service started by `find` keeps the model in memory without a query; the same
# order as other local model runners (ollama keeps a model five minutes), so a burst of queries is
# answered warm while an idle machine gets its memory back soon.
SERVE_IDLE_SECONDS = 300.0

_TRUE = ("1", "true", "yes", "on")


def flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value (1, true, yes, on; any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def data_dir() -> Path:
    """The user data folder (the default index lives here)."""
    from platformdirs import user_data_path

    return user_data_path(APP, appauthor=False)


def cache_dir() -> Path:
    """The user cache folder (query vectors, the lite model's class vectors)."""
    from platformdirs import user_cache_path

    return user_cache_path(APP, appauthor=False)


def db_path(given: str | os.PathLike[str] | None = None) -> Path:
    """The index file: ``given`` (``--db``), else ``$VIDSEARCH_DB``, else the data folder's index.db."""
    if given is not None and str(given):
        return Path(given).expanduser()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    return data_dir() / "index.db"


def socket_path() -> Path:
    """Where this user's query service listens (see the module docstring)."""
    env = os.environ.get(ENV_SOCKET)
    if env:
        return _in_private_folder(Path(env).expanduser())
    data = data_dir()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        tag = hashlib.sha256(os.fsencode(data)).hexdigest()[:10]
        return Path(runtime) / f"{APP}-{tag}" / "service.sock"
    return data / "run" / "service.sock"


def private_dir(folder: str | os.PathLike[str]) -> Path:
    """Make ``folder`` (and any missing parents) readable by this user only (0700), and return it.

    Only folders created here are given that mode: a folder that already exists is never changed (it
    may be the user's own, or one shared with others such as /tmp).
    """
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by another process meanwhile: not ours to change
        os.chmod(made, 0o700)  # exactly 0700 whatever the umask took away
    return folder


def _in_private_folder(wanted: Path) -> Path:
    """``wanted`` when its folder is missing (it is then made 0700) or ours and private; else the same
    name in a ``vidsearch-<uid>`` subfolder of it. A shared folder (/tmp) is never made private: that
    would change it for everyone else."""
    try:
        info = wanted.parent.stat()
    except OSError:
        return wanted
    if info.st_uid == os.getuid() and not stat.S_IMODE(info.st_mode) & 0o077:
        return wanted
    return wanted.parent / f"{APP}-{os.getuid()}" / wanted.name


def query_cache_dir() -> Path:
    """Where vectors of queries already embedded are remembered."""
    return cache_dir() / "queries"


def hub_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The Hugging Face hub cache folder models are looked up in."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hub_offline() -> bool:
    """Whether the Hugging Face Hub must not be contacted (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return flag("HF_HUB_OFFLINE") or flag("TRANSFORMERS_OFFLINE")


def color(stream: object) -> bool:
    """Whether to style text written to ``stream``: a terminal, and ``NO_COLOR`` unset or empty
    (no-color.org). Without it, output has no escape codes at all (no colour, bold or dim)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def debug() -> bool:
    """``VIDSEARCH_DEBUG``: show tracebacks instead of one-line messages."""
    return bool(os.environ.get(ENV_DEBUG))


def service_disabled() -> bool:
    """``VIDSEARCH_NO_SERVICE``: never ask or start the query service (any value but 0/false)."""
    value = os.environ.get(ENV_NO_SERVICE, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def autoserve() -> bool:
    """Whether ``find`` starts the query service when none runs, so the next query skips the model
    load: yes unless ``VIDSEARCH_AUTOSERVE`` is false (0, false, no, off) or the service is off."""
    value = os.environ.get(ENV_AUTOSERVE, "").strip().lower()
    return value not in ("0", "false", "no", "off") and not service_disabled()


def serve_idle() -> float:
    """``VIDSEARCH_SERVE_IDLE``: seconds a service started by ``find`` waits for a query before it
    exits (default 300). UsageError for a value that is not a positive number."""
    from vidsearch.errors import UsageError

    raw = os.environ.get(ENV_SERVE_IDLE, "").strip()
    if not raw:
        return SERVE_IDLE_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"{ENV_SERVE_IDLE}={raw!r} is not a number of seconds") from None
    if not seconds > 0:
        raise UsageError(f"{ENV_SERVE_IDLE} must be more than 0 seconds, not {raw}")
    return seconds

