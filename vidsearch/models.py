"""Known models, which one ``auto`` picks, and loading an embedder by name.

A model name is one of the aliases below, a Hugging Face Hub id, or a local folder. The index
records the resolved name, so later commands load the same model without being told.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vidsearch import config, hub
from vidsearch.errors import IndexMismatchError, UsageError

if TYPE_CHECKING:
    from vidsearch.embed.base import Embedder
    from vidsearch.embed.qwen3vl import QwenVLEmbedder

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


_EXIT_SUFFIX = re.compile(r":exit(\d+)$")


def split_exit(name: str) -> tuple[str, int | None]:
    """``name:exitK`` -> (name, K); a name without the suffix -> (name, None).

    The suffix means "read embeddings at decoder layer K" (a model id records it, so an index built
    with an early exit is searched with the same one).
    """
    match = _EXIT_SUFFIX.search(name.strip())
    if match is None:
        return name.strip(), None
    return name.strip()[: match.start()], int(match.group(1))


def with_exit_layer(requested: str | None, exit_layer: int) -> str:
    """The model name that reads embeddings at ``exit_layer`` of the multimodal model ``requested``."""
    if not requested or canonical_name(requested) in ("auto", LITE):
        raise UsageError("--exit-layer needs a multimodal model, e.g. --model qwen3-vl-2b --exit-layer 14")
    return f"{canonical_name(split_exit(requested)[0])}:exit{exit_layer}"


def canonical_name(name: str) -> str:
    """Map an alias to its model name, a local folder to its absolute path; other names pass through.

    A ``:exitK`` suffix (read embeddings at decoder layer K) is kept: ``qwen:exit14`` ->
    ``Qwen/Qwen3-VL-Embedding-2B:exit14``. Raises UsageError for a path that does not exist.
    """
    base, exit_layer = split_exit(name)
    if exit_layer is not None:
        return f"{canonical_name(base)}:exit{exit_layer}"
    lowered = base.lower()
    if lowered == "auto":
        return "auto"
    for spec in KNOWN_MODELS:
        if lowered == spec.name.lower() or lowered in spec.aliases:
            return spec.name
    if os.path.isdir(os.path.expanduser(base)):
        return os.path.abspath(os.path.expanduser(base))
    if hub.looks_like_path(base):
        raise UsageError(f"model folder not found: {base}")
    return base


def spec_of(name: str) -> ModelSpec | None:
    return next((s for s in KNOWN_MODELS if s.name == name), None)


def mllm_installed() -> bool:
    return importlib.util.find_spec("transformers") is not None and (
        importlib.util.find_spec("torchvision") is not None
    )


def usable_here(spec: ModelSpec, device: str) -> tuple[bool, str]:
    """Whether ``spec`` can run on this machine now, and why (not)."""
    if spec.name == LITE:
        from vidsearch.embed import lite

        return lite.available()
    if not mllm_installed():
        return False, "needs: pip install 'vidsearch[qwen]'"
    assert spec.hub_id is not None
    cached = hub.cached(spec.hub_id) is not None
    offline = config.hub_offline()
    where = "weights cached" if cached else ("not cached, offline" if offline else "downloadable")
    ok = cached or not offline
    if device == "cpu":
        return ok, where + "; CPU only: slow (minutes per hour of video)"
    return ok, f"{where}; {device}"


def choose_auto(device: str) -> tuple[str, str]:
    """The model ``--model auto`` means here, and one line saying why."""
    spec = KNOWN_MODELS[1]
    if device in ("cpu",):
        # point at the multimodal model only where `vidsearch models` calls it usable here
        usable = usable_here(spec, device)[0]
        hint = f"; `--model {spec.aliases[0]}` chooses the multimodal LLM (slow on a CPU)" if usable else ""
        return LITE, "using the bundled lite model (no CUDA or MPS GPU here)" + hint
    if not mllm_installed():
        return LITE, (
            f"using the bundled lite model: a {device} GPU is here but the multimodal backend is not "
            "installed (pip install 'vidsearch[qwen]')"
        )
    assert spec.hub_id is not None
    if hub.cached(spec.hub_id) is not None or not config.hub_offline():
        return spec.name, f"using {spec.name} on {device} (`--model lite` for the small bundled model)"
    return LITE, f"using the bundled lite model: {spec.name} is not cached and the hub is offline"


def model_for_index(
    bound: str | None, requested: str | None, device: str, index: object = "the index"
) -> tuple[str, str | None]:
    """The model a command uses on an index built with ``bound`` (None for a new index): the index's
    own, else the ``requested`` one, else what ``auto`` picks on ``device``. ``index`` names the
    index in messages.

    Returns (model name, a line for stderr saying why auto chose it, or None). Raises
    IndexMismatchError when the request disagrees with the index's model.
    """
    from vidsearch.device import pick_device

    if requested and requested.strip().lower() != "auto":
        name = canonical_name(requested)
        if bound and bound != name:
            raise IndexMismatchError(
                f"the index {index} was built with model {bound!r}, not {name!r}. Leave --model out "
                f"to use {bound!r}, pass --rebuild to re-index everything with {name!r}, or use another "
                f"index with --db"
            )
        return name, None
    if bound:
        return bound, None
    name, why = choose_auto(pick_device(device))
    return name, why


def load_embedder(
    name: str,
    device: str = "auto",
    precision: str = "auto",
    cache_dir: str | None = None,
    budget: str = "faithful",
) -> Embedder:
    """Load the embedder for a model name (alias, hub id or folder, ``:exitK`` allowed) on ``device``.

    ``budget`` is the multimodal model's budget setting (``vidsearch.embed.budget.SETTINGS``); the lite
    model has its own and takes only the default. Raises ModelUnavailableError (weights missing),
    UsageError (bad device, name or budget).
    """
    from vidsearch.device import pick_device

    name = canonical_name(name)
    check_budget(name, budget)
    if name == LITE:
        from vidsearch.embed import lite

        return lite.load(device=pick_device(device, small_model=True), cache_dir=str(config.cache_dir()))
    return load_mllm(name, device=device, precision=precision, cache_dir=cache_dir, budget=budget)


def check_budget(name: str, budget: str) -> str:
    """The budget setting's name for model ``name``; UsageError for an unknown one or a non-default
    one on the lite model (which chooses its own frames)."""
    if budget == "faithful":  # the default: every model takes it, and a query need not load the table
        return budget
    from vidsearch.embed.budget import setting_named

    chosen = setting_named(budget).name
    if canonical_name(name) == LITE and chosen != "faithful":
        raise UsageError(f"--budget {chosen} applies to multimodal models, e.g. --model qwen3-vl-2b")
    return chosen


def check_available(name: str, cache_dir: str | None = None) -> None:
    """Fail fast, before any work, when model ``name`` cannot be loaded here: its backend is not
    installed or its weights are nowhere to be found (UsageError, ModelUnavailableError). Cheap: no
    model code is imported."""
    name = canonical_name(name)
    if name == LITE:
        return
    if not mllm_installed():
        raise UsageError(
            f"model {name} needs the multimodal backend: pip install 'vidsearch[qwen]' (or use --model lite)"
        )
    hub.resolve_model_folder(split_exit(name)[0], cache_dir)


def load_mllm(
    name: str, device: str = "auto", precision: str = "auto", cache_dir: str | None = None, budget: str = "faithful"
) -> QwenVLEmbedder:
    """Load a multimodal LLM embedder (a Qwen3-VL-Embedding checkpoint: hub id or folder, ``:exitK``
    allowed). Raises UsageError when the backend is not installed, ModelUnavailableError when the
    weights cannot be found."""
    name = canonical_name(name)
    check_available(name, cache_dir)
    from vidsearch.embed import qwen3vl

    return qwen3vl.load(name, device=device, precision=precision, cache_dir=cache_dir, budget=budget)
