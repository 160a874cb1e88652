"""Model weights on disk: a local folder, or a Hugging Face Hub id looked up in the HF cache (and
downloaded only when missing and the Hub is not switched off).

The cache folder and the offline rule come from ``vidsearch.config``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vidsearch import config
from vidsearch.errors import ModelUnavailableError

# Files a Qwen3-VL checkpoint needs; anything else in the repo (images, READMEs, other formats) is skipped.
CHECKPOINT_FILES = ["*.json", "*.safetensors", "*.jinja", "*.txt", "tokenizer*", "merges.txt", "vocab.json"]
HUB_TIMEOUT_S = 10.0
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
ALTERNATIVES = "use --model lite (bundled, works offline) or --model PATH to a downloaded model folder"


def looks_like_path(name: str) -> bool:
    """True when ``name`` is meant as a folder, not a Hub id: it starts with / . ~ , holds a
    backslash or more than one slash, or names something that exists on disk."""
    return (
        name.startswith(("/", ".", "~"))
        or "\\" in name
        or name.count("/") > 1
        or os.path.exists(os.path.expanduser(name))
    )


def is_hub_id(name: str) -> bool:
    """True when ``name`` has the shape of a Hub repository id (``org/name``) and is not a path."""
    return not looks_like_path(name) and _REPO_ID.fullmatch(name) is not None


def cached(hub_id: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The snapshot folder holding ``hub_id`` in the local HF cache (its config.json), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(hub_id, "config.json", cache_dir=str(config.hub_cache_dir(cache_dir)))
    return Path(found).parent if isinstance(found, str) else None


def resolve_model_folder(model: str, cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Find the folder holding ``model`` (a local folder or a Hub id); return (folder, name).

    The name is what the index records: the Hub id, or for a folder its resolved path (a folder
    inside an HF cache, ``.../models--org--name/snapshots/<hash>``, is named ``org/name``).
    Raises ModelUnavailableError naming where it looked.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"{path} is not a model folder (it has no config.json); {ALTERNATIVES}")
        return path.resolve(), folder_name(path.resolve())
    if not is_hub_id(model):
        raise ModelUnavailableError(f"model folder {path} does not exist; {ALTERNATIVES}")
    folder = cached(model, cache_dir)
    if folder is not None:
        return folder, model
    cache = config.hub_cache_dir(cache_dir)
    if config.hub_offline():
        raise ModelUnavailableError(
            f"model {model} is neither a local folder nor in the Hugging Face cache ({cache}), and "
            f"HF_HUB_OFFLINE is set, so it cannot be downloaded; {ALTERNATIVES}"
        )
    return download(model, cache), model


def download(repo_id: str, cache: Path) -> Path:
    """Fetch a checkpoint's files into the HF cache ``cache``; its snapshot folder.

    Raises ModelUnavailableError quickly when the Hub cannot be reached or has no such model.
    """
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    # Ask the Hub once with a short timeout first, so that a wrong name or no network fails in
    # seconds instead of hanging inside a download.
    try:
        HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except GatedRepoError as e:
        raise ModelUnavailableError(
            f"model {repo_id} needs a Hugging Face login (huggingface-cli login); {ALTERNATIVES}"
        ) from e
    except RepositoryNotFoundError as e:
        raise ModelUnavailableError(
            f"no model named {repo_id} on the Hugging Face Hub (and none in the cache {cache}); {ALTERNATIVES}"
        ) from e
    except Exception as e:  # any network failure means the same to the user: not reachable now
        raise ModelUnavailableError(
            f"model {repo_id} is not in the Hugging Face cache ({cache}) and the Hub could not be reached "
            f"({type(e).__name__}: {e}); {ALTERNATIVES}"
        ) from e
    try:
        folder = snapshot_download(
            repo_id, cache_dir=str(cache), allow_patterns=CHECKPOINT_FILES, etag_timeout=HUB_TIMEOUT_S
        )
    except Exception as e:  # disk full, connection dropped, ...: all leave the model unavailable
        raise ModelUnavailableError(
            f"downloading {repo_id} into {cache} failed ({type(e).__name__}: {e}); {ALTERNATIVES}"
        ) from e
    return Path(folder)


def folder_name(folder: Path) -> str:
    """``org/name`` for a snapshot folder inside an HF cache, else the folder's path."""
    parts = folder.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--") :].replace("--", "/")
    return str(folder)
