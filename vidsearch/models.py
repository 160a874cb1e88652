"""Known models, which one ``auto`` picks, and loading an embedder by name.

A model name is one of the aliases below, a Hugging Face Hub id, or a local folder. The index
records the resolved name, so later commands load the same model without being told.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass

from vidsearch.embed.base import Embedder
from vidsearch.errors import UsageError

LITE = "lite"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what `--model` accepts and the index records
    kind: str
    size: str  # download / disk size, for people choosing
    hub_id: str | None
    needs: str  # what it needs to be pleasant
    aliases: tuple[str, ...] = ()


KNOWN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name=LITE,
        kind="bundled: MiniLM-L6 text space + EfficientNet-Lite0 classes + on-screen text (OCR)",
        size="~110 MB, installed with vidsearch",
        hub_id=None,
        needs="any CPU, no download",
    ),
    ModelSpec(
        name="Qwen/Qwen3-VL-Embedding-2B",
        kind="multimodal LLM embedder (video + text), 2048-d",
        size="~4.3 GB download",
        hub_id="Qwen/Qwen3-VL-Embedding-2B",
        needs="CUDA or Apple MPS GPU recommended; pip install 'vidsearch[qwen]'",
        aliases=("qwen3-vl-2b", "qwen", "qwen2b"),
    ),
    ModelSpec(
        name="Qwen/Qwen3-VL-Embedding-8B",
        kind="multimodal LLM embedder (video + text), 4096-d",
        size="~17 GB download",
        hub_id="Qwen/Qwen3-VL-Embedding-8B",
        needs="GPU with 20 GB+ memory; pip install 'vidsearch[qwen]'",
        aliases=("qwen3-vl-8b", "qwen8b"),
    ),
)
DEFAULT_MLLM = KNOWN_MODELS[1].name


def canonical_name(name: str) -> str:
    """Map an alias to its model name, a local folder to its absolute path; other names pass through.

    A ``:exitK`` suffix (read embeddings at decoder layer K) is kept: ``qwen:exit14`` ->
    ``Qwen/Qwen3-VL-Embedding-2B:exit14``.
    """
    suffix = re.search(r"(:exit\d+)$", name.strip())
    if suffix:
        return canonical_name(name.strip()[: suffix.start()]) + suffix.group(1)
    lowered = name.strip().lower()
    for spec in KNOWN_MODELS:
        if lowered == spec.name.lower() or lowered in spec.aliases:
            return spec.name
    if os.path.isdir(os.path.expanduser(name)):
        return os.path.abspath(os.path.expanduser(name))
    if os.sep in name and (name.startswith((".", "/", "~")) or name.count("/") > 1):
        raise UsageError(f"model folder not found: {name}")
    return name.strip()


def spec_of(name: str) -> ModelSpec | None:
    return next((s for s in KNOWN_MODELS if s.name == name), None)


def mllm_installed() -> bool:
    return importlib.util.find_spec("transformers") is not None and (
        importlib.util.find_spec("torchvision") is not None
    )


def hub_cached(hub_id: str, cache_dir: str | None = None) -> bool:
    """Whether the model's config is in the local Hugging Face cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(hub_id, "config.json", cache_dir=cache_dir)
    return isinstance(found, str)


def usable_here(spec: ModelSpec, device: str) -> tuple[bool, str]:
    """Whether ``spec`` can run on this machine now, and why (not)."""
    if spec.name == LITE:
        from vidsearch.embed import lite

        return lite.available()
    if not mllm_installed():
        return False, "needs: pip install 'vidsearch[qwen]'"
    assert spec.hub_id is not None
    cached = hub_cached(spec.hub_id)
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    where = "weights cached" if cached else ("not cached, offline" if offline else "downloadable")
    ok = cached or not offline
    if device == "cpu":
        return ok, where + "; CPU only: slow (minutes per hour of video)"
    return ok, f"{where}; {device}"


def choose_auto(device: str) -> tuple[str, str]:
    """The model ``--model auto`` means here, and one line saying why."""
    spec = KNOWN_MODELS[1]
    if device in ("cpu",):
        return LITE, (
            "using the bundled lite model (no CUDA or MPS GPU here); "
            f"`--model {spec.aliases[0]}` chooses the multimodal LLM"
        )
    if not mllm_installed():
        return LITE, (
            f"using the bundled lite model: a {device} GPU is here but the multimodal backend is not "
            "installed (pip install 'vidsearch[qwen]')"
        )
    assert spec.hub_id is not None
    if hub_cached(spec.hub_id) or os.environ.get("HF_HUB_OFFLINE", "") in ("", "0"):
        return spec.name, f"using {spec.name} on {device} (`--model lite` for the small bundled model)"
    return LITE, f"using the bundled lite model: {spec.name} is not cached and the hub is offline"


def load_embedder(
    name: str, device: str = "auto", precision: str = "auto", cache_dir: str | None = None
) -> Embedder:
    """Load the embedder for a model name (alias, hub id or folder) on ``device``.

    Raises ModelUnavailableError (weights missing), UsageError (bad device or name).
    """
    name = canonical_name(name)
    if name == LITE:
        from vidsearch.embed import lite

        return lite.load(device="cpu" if device == "auto" else device, cache_dir=_lite_cache())
    if not mllm_installed():
        raise UsageError(
            f"model {name} needs the multimodal backend: pip install 'vidsearch[qwen]' (or use --model lite)"
        )
    from vidsearch.embed import qwen3vl

    return qwen3vl.load(name, device=device, precision=precision, cache_dir=cache_dir)


def _lite_cache() -> str:
    from platformdirs import user_cache_path

    return str(user_cache_path("vidsearch", appauthor=False))
