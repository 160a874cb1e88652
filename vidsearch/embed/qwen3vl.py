"""The multimodal LLM embedder: Qwen3-VL-Embedding (or any Qwen3-VL checkpoint laid out like it).

Facts this module relies on, and where they come from:

* Model card ``Qwen/Qwen3-VL-Embedding-2B`` (huggingface.co) and its reference script
  ``src/models/qwen3_vl_embedding.py`` (class ``Qwen3VLEmbedder``, github.com/QwenLM/Qwen3-VL-Embedding):
  - the input is a chat: a system turn holding an instruction, a user turn holding the content
    (video and/or text), then ``add_generation_prompt=True`` (``<|im_start|>assistant\\n``);
  - the default instruction is "Represent the user's input."; the card recommends task-specific
    instructions (written in English) on the query side, worth 1-5% on most tasks;
  - the embedding is the last-layer hidden state of the last real token (the reference pads on the
    right and takes the last position whose attention mask is 1), L2-normalised;
  - 2B: 28 layers, 2048 dims; MRL ("Matryoshka"): the first ``k`` dims, re-normalised, are a valid
    smaller embedding (the 8B card lists 64..4096);
  - videos are passed with ``video_metadata`` (fps, frame indices) and ``do_resize=False`` after
    being resized by qwen-vl-utils' rules (``vidsearch.embed.qwen_frames``: at least 128 and at most
    768 merged tokens per frame, multiples of 32 pixels, bicubic); the reference targets transformers 4.57.
* transformers 4.57 ``Qwen3VLProcessor`` replaces the whole ``<|vision_start|><|video_pad|><|vision_end|>``
  with ``<t seconds><|vision_start|>pads<|vision_end|>`` per temporal patch (t is the mean time of the
  two frames merged into it). transformers 5.x replaces only the inner ``<|video_pad|>``, which nests the
  markers (vllm-project/vllm#46817; our spike in shared/spikes/qwen3vl/NOTES.md). The model was trained
  on the 4.57 layout, so we hand the processor a bare ``<|video_pad|>``: both versions then give it.
* ``do_sample_frames`` must be off (else the processor resamples at 2 fps and drops frames), and
  ``temporal_patch_size`` is 2, so a moment always gets an even number of frames.

Spending compute where a moment needs it:

* faithful by default: every frame gets the reference's size (``qwen_frames.frame_grid``) and a moment
  at most the reference's frame count (1 per second, 4 to 64); the budget (``vidsearch.embed.budget``)
  only gives still or slowly changing moments fewer frames, and a still moment showing the picture
  of the moment before shares its vector. The ``fast`` setting (opt-in) also shrinks frames below
  the model's minimum (a still shot two frames at 128 px, a busy street eight at 256);
* moments with equal budgets share a batch; a cheap moment of two or more frame pairs whose pooled
  visual features still move from its first half to the whole (``budget.visual_drift``, read from
  the pass it already got) is embedded again at the full budget;
* layer exit (as in VidVec): ``exit_layer=K`` builds only the first K decoder layers (the weights of
  the others are never loaded) and reads the embedding there, after the final RMSNorm, which is what
  the full model computes when its layer list is cut to K. Vectors at another layer live in another
  space, so ``model_id`` says ``:exitK``. K must come after the layers that receive the vision tower's
  "deepstack" features (the first 3 of 28 in the 2B), else the exit would drop visual input;
* precision: ``vidsearch.device.pick_precision``; on the CPU, int8 means each Linear quantized as it
  is read from the checkpoint (``vidsearch.embed.weights.load_streamed``: the float model is never
  whole in memory), with oneDNN's int8 matmul on AMX CPUs (``vidsearch.embed.int8``) and torch.ao's
  dynamic int8 elsewhere, the token table left in bf16; on CUDA, int8/int4 are bitsandbytes weights.
  Building the network (precision, exit layer, patch embedding) is ``vidsearch.embed.qwen_load``;
  this module turns moments and queries into vectors.

torch and transformers are imported at this module's import time; nothing in ``vidsearch`` imports
this module until a Qwen model is asked for.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from vidsearch.device import Precision, pick_device, pick_precision
from vidsearch.embed.budget import (
    DEFAULT_POLICY,
    FAITHFUL,
    Budget,
    BudgetSetting,
    Policy,
    choose_budget,
    escalate,
    same_picture,
    setting_named,
    settled,
    shared,
    visual_drift,
)
from vidsearch.embed.qwen_frames import DECODE_SIDE, MAX_FRAMES, frame_count, frame_grid, resize_bicubic
from vidsearch.embed.qwen_load import load_network, patches_as_matmul, set_exit_layer, weight_bytes
from vidsearch.errors import ModelError, UsageError
from vidsearch.hub import resolve_model_folder
from vidsearch.media.frames import pick
from vidsearch.models import split_exit
from vidsearch.types import ESCALATED, Frame, MomentCost, Segment

DEFAULT_MODEL = "Qwen/Qwen3-VL-Embedding-2B"
DOCUMENT_INSTRUCTION = "Represent the user's input."
QUERY_INSTRUCTION = "Retrieve videos relevant to the user's query."

# On the CPU a forward pass takes at most this many vision patches (more moments per pass only while
# they are small). Measured on the 2B shape with int8: peak memory 2.01 GiB instead of 2.20 with four
# busy moments per pass, and the same CPU time for them (4.39 s against 4.40 s per four moments).
CPU_PATCHES_PER_FORWARD = 512

_TIME_RESOLUTION = 1000.0  # frame times go to the processor as indices at this "fps" (millisecond ticks)


def load(
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    precision: str = "auto",
    cache_dir: str | None = None,
    dim: int | None = None,
    *,
    budget: str | BudgetSetting = FAITHFUL,
    frame_side: int | None = None,
    frames_per_moment: int | None = None,
    batch_size: int = 4,
    exit_layer: int | None = None,
    adaptive: bool | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> QwenVLEmbedder:
    """Load a Qwen3-VL embedding model and its processor; return a ready ``QwenVLEmbedder``.

    ``model`` is a Hugging Face Hub id (looked up in the HF cache: ``cache_dir``, else HF_HUB_CACHE,
    else HF_HOME/hub; downloaded only when missing and HF_HUB_OFFLINE is not set) or a local folder.
    ``device``/``precision`` go through ``vidsearch.device``. ``dim`` keeps only the first
    ``dim`` dimensions (Matryoshka), re-normalised. ``budget`` is the setting (``budget.SETTINGS``:
    faithful, fast, full, or a ``BudgetSetting``): with an adaptive one each moment gets a share of the
    full budget chosen by ``vidsearch.embed.budget.choose_budget`` under ``policy``, and a cheap moment
    whose visual features have not settled is embedded again at the full budget (``budget.escalate``).
    ``frames_per_moment`` fixes the full budget's frame count (default: the reference's for each
    moment; fast: 8), ``adaptive`` overrides the setting's, and ``frame_side`` is the longest side
    frames are decoded at (default 1920; fast: 256, which is then also its frame size). ``exit_layer`` reads
    embeddings at that decoder layer and skips the layers after it (None: full depth, the reference).
    Raises ``ModelUnavailableError`` quickly when the weights are neither on disk nor downloadable,
    ``UsageError`` for impossible settings. A model name ending in ``:exitK`` (as ``model_id`` spells
    it, so an index records it) means ``exit_layer=K``.
    """
    base, named = split_exit(model)
    if named is not None:
        if exit_layer is not None and exit_layer != named:
            raise UsageError(f"model {model} names exit layer {named} but exit_layer={exit_layer} was asked")
        model, exit_layer = base, named
    setting = setting_named(budget)
    if frames_per_moment is not None:
        if frames_per_moment < 2 or frames_per_moment % 2:
            raise UsageError(f"frames per moment must be an even number >= 2 (got {frames_per_moment})")
        setting = replace(setting, frames=frames_per_moment)
    if adaptive is not None:
        setting = replace(setting, adaptive=adaptive)
    if frame_side is not None:
        if frame_side < 32:
            raise UsageError(f"frame side must be at least 32 pixels (got {frame_side})")
        if setting.side is not None:
            setting = replace(setting, side=frame_side)
    folder, name = resolve_model_folder(model, cache_dir)
    device = pick_device(device)
    chosen = pick_precision(device, precision, model_bytes=weight_bytes(folder))
    from transformers import AutoConfig, AutoProcessor

    try:
        config = AutoConfig.from_pretrained(str(folder))
        exit_layer = set_exit_layer(config, exit_layer, name)
        processor = AutoProcessor.from_pretrained(str(folder))
        network = load_network(folder, config, chosen, device, exit_layer is not None)
        patches_as_matmul(network)
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"could not load the model {name} from {folder}: {e}") from e
    network.eval()
    return QwenVLEmbedder(
        network,
        processor,
        name=name,
        device=device,
        dim=dim,
        setting=setting,
        frame_side=frame_side,
        batch_size=batch_size,
        patches_per_forward=CPU_PATCHES_PER_FORWARD if device == "cpu" else None,
        exit_layer=exit_layer,
        policy=policy,
        precision=chosen,
    )


class QwenVLEmbedder:
    """Moments (segments with frames) and queries -> unit vectors with a Qwen3-VL embedding model.

    Implements ``vidsearch.embed.base.Embedder``. Build it with ``load()``.
    """

    # Share of the whole query sentence in the score of a query with several clauses. The same as the
    # lite model's measured choice; not measured for this model (its weights cannot be fetched here).
    whole_query_weight = 0.5

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,  # a transformers Qwen3VLProcessor
        *,
        name: str,
        device: str,
        dim: int | None = None,
        setting: BudgetSetting = FAITHFUL,
        frame_side: int | None = None,
        batch_size: int = 4,
        patches_per_forward: int | None = None,
        exit_layer: int | None = None,
        policy: Policy = DEFAULT_POLICY,
        precision: Precision | None = None,
    ) -> None:
        # Any: through nn.Module.__getattr__ transformers' config and submodules type as ``Tensor | Module``
        self._config: Any = cast(Any, model.config)
        full = int(self._config.text_config.hidden_size)
        if dim is not None and not 1 <= dim <= full:
            raise UsageError(f"dim must be between 1 and {full} for {name} (got {dim})")
        self._model: torch.nn.Module | None = model
        self._processor = processor
        self._device = device
        self.precision = precision or Precision(str(next(model.parameters()).dtype), "")
        self._dtype = getattr(torch, precision.dtype) if precision else next(model.parameters()).dtype
        self._full_dim = full
        self.dim = dim or full
        self.exit_layer = exit_layer
        self.depth = int(self._config.text_config.num_hidden_layers)  # decoder layers actually built
        # vectors read at another layer, or cut to fewer dims, live in another space: say so in the id
        self.model_id = name + (f":exit{exit_layer}" if exit_layer else "")
        self.model_id += f":dim{self.dim}" if self.dim != full else ""
        self.setting = setting
        # what decode gives: frames up to this side reach the resize to the model's grid whole
        self.frame_side = frame_side or setting.side or DECODE_SIDE
        self.frames_per_moment = setting.frames or MAX_FRAMES  # at most; the budget picks per moment
        self.adaptive = setting.adaptive
        self.policy = policy
        self.batch_size = max(1, batch_size)
        self.patches_per_forward = patches_per_forward  # None: batch_size moments whatever their size
        self.last_budgets: list[Budget] = []  # what the latest embed_moments chose, in segment order
        video = processor.video_processor
        self._factor = int(video.patch_size) * int(video.merge_size)
        self._merge = int(video.merge_size)
        if getattr(video, "cap_pixels_per_frame", False) is None:
            video.cap_pixels_per_frame = True  # we resize ourselves; this only silences a 5.x warning
        # the reference pads on the right and pools the last attended position
        processor.tokenizer.padding_side = "right"

    # -- the Embedder protocol -------------------------------------------------------------------

    def embed_moments(
        self, segments: Sequence[Segment], setting: str | BudgetSetting | None = None
    ) -> tuple[np.ndarray, list[MomentCost]]:
        """Embed each segment's frames as a video; return (n, dim) float32 unit rows and costs.

        With an adaptive setting each segment gets its own budget (``last_budgets`` keeps them, with
        reasons), and a moment whose visual features still moved across its frames is embedded again
        at the full budget (its cost counts both passes). Where the setting shares, a still moment
        showing the same picture as the moment before it (``budget.same_picture``) takes that moment's
        vector and costs nothing. Each cost records the setting's name. ``setting`` (default: the
        embedder's) embeds under another budget setting, as ``vidsearch models --check-budget`` does.
        """
        chosen = self.setting if setting is None else setting_named(setting)
        source: dict[int, int] = {}  # moment -> the earlier moment whose vector it shares
        if chosen.share:
            for i in range(1, len(segments)):
                if same_picture(segments[i - 1], segments[i], self.policy):
                    source[i] = source.get(i - 1, i - 1)
        own = [i for i in range(len(segments)) if i not in source]
        vectors, costs, budgets = self._embed_budgeted([segments[i] for i in own], chosen)
        out = np.zeros((len(segments), self.dim), np.float32)
        all_costs = [MomentCost()] * len(segments)
        all_budgets: list[Budget] = [Budget(0, None)] * len(segments)
        for row, i in enumerate(own):
            out[i], all_costs[i], all_budgets[i] = vectors[row], costs[row], budgets[row]
        for i, j in source.items():
            out[i] = out[j]
            all_budgets[i] = shared(all_budgets[j], segments[j])
            all_costs[i] = MomentCost(exit_layer=self.exit_layer, budget=all_budgets[i].reason)
        self.last_budgets = all_budgets
        return out, [replace(cost, setting=chosen.name) for cost in all_costs]

    def _embed_budgeted(
        self, segments: Sequence[Segment], setting: BudgetSetting
    ) -> tuple[np.ndarray, list[MomentCost], list[Budget]]:
        """``embed_moments`` without sharing: (n, dim) rows, costs and the budgets they were spent at."""
        budgets = [self.budget_for(s, setting=setting) for s in segments]
        plain: list[str | None] = [None] * len(segments)
        drifts: list[float | None] | None = [None] * len(segments) if setting.adaptive else None
        vectors, costs = self._embed_videos(segments, DOCUMENT_INSTRUCTION, plain, budgets, drifts=drifts)
        if drifts is not None:
            redo: dict[int, Budget] = {}
            for i, drift in enumerate(drifts):
                higher = escalate(budgets[i], drift, self.full_budget(segments[i], setting), self.policy)
                if higher is None:
                    budgets[i] = settled(budgets[i], drift)
                else:
                    redo[i] = higher
            if redo:
                again, higher_budgets = [segments[i] for i in redo], list(redo.values())
                more, more_costs = self._embed_videos(again, DOCUMENT_INSTRUCTION, [None] * len(redo), higher_budgets)
                for row, (i, higher) in enumerate(redo.items()):
                    vectors[:, i] = more[:, row]
                    costs[i] = replace(more_costs[row], seconds=more_costs[row].seconds + costs[i].seconds)
                    budgets[i] = higher
        costs = [replace(cost, budget=budget.reason) for cost, budget in zip(costs, budgets, strict=True)]
        return vectors[0], costs, budgets

    def budget_for(self, segment: Segment, recorded: str = "", setting: str | BudgetSetting | None = None) -> Budget:
        """The frames and frame size ``embed_moments`` gives ``segment`` before its drift is known.

        ``recorded`` is the reason indexing stored with the moment (``MomentCost.budget``): a moment
        that was embedded again at the full budget gets the full budget. ``setting`` (default: the
        embedder's) is the budget setting to decide under.
        """
        chosen = self.setting if setting is None else setting_named(setting)
        full = self.full_budget(segment, chosen)
        if recorded.endswith(ESCALATED):
            return full
        if not chosen.adaptive:
            return replace(full, reason="fixed budget")
        return choose_budget(segment, full.frames, chosen.side, policy=self.policy)

    def full_budget(self, segment: Segment, setting: BudgetSetting | None = None) -> Budget:
        """The most ``segment`` may cost under ``setting`` (default: the embedder's): its frame count
        (the reference's for the moment's length, unless the setting fixes one) at its frame size."""
        chosen = setting or self.setting
        frames = chosen.frames or frame_count(segment.end - segment.start, len(segment.frames))
        return Budget(frames, chosen.side, "full budget")

    def embed_moments_at_layers(
        self, segments: Sequence[Segment], layers: Sequence[int], budgets: Sequence[Budget] | None = None
    ) -> dict[int, np.ndarray]:
        """Embed moments once and read the embedding at each decoder layer in ``layers``.

        Layer K's vectors equal what ``load(..., exit_layer=K)`` gives (RMSNorm of the state after
        layer K; the last layer is the full model's output). ``budgets`` default to the full budget.
        Returns {layer: (n, dim) float32 unit rows}.
        """
        budgets = list(budgets) if budgets is not None else [self.full_budget(s) for s in segments]
        chosen = self.check_layers(layers)
        plain = [None] * len(segments)
        vectors, _ = self._embed_videos(segments, DOCUMENT_INSTRUCTION, plain, budgets, chosen)
        return {layer: vectors[i] for i, layer in enumerate(chosen)}

    def embed_queries_at_layers(self, texts: Sequence[str], layers: Sequence[int]) -> dict[int, np.ndarray]:
        """Like ``embed_queries``, read at each decoder layer in ``layers``: {layer: (n, dim) rows}."""
        chosen = self.check_layers(layers)
        vectors = self._embed_texts(texts, chosen)
        return {layer: vectors[i] for i, layer in enumerate(chosen)}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed query texts (with the retrieval instruction); return (n, dim) float32 unit rows."""
        return self._embed_texts(texts, None)[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts found in moments (what was said, subtitles) as the model embeds its corpus: with
        the document instruction, like the moments' pictures. Returns (n, dim) float32 unit rows."""
        return self._embed_texts(texts, None, DOCUMENT_INSTRUCTION)[0]

    def _embed_texts(
        self, texts: Sequence[str], layers: Sequence[int] | None, instruction: str = QUERY_INSTRUCTION
    ) -> np.ndarray:
        out = np.zeros((len(layers or [None]), len(texts), self.dim), np.float32)
        step = self.batch_size * 4  # text-only rows are short; batch more of them
        for start in range(0, len(texts), step):
            chunk = list(texts[start : start + step])
            prompts = [self._prompt(instruction, video=False, text=t) for t in chunk]
            inputs = self._processor(text=prompts, padding=True, return_tensors="pt")
            out[:, start : start + len(chunk)] = self._forward(inputs, layers)
        return out

    def embed_composed(self, segments: Sequence[Segment], texts: Sequence[str]) -> np.ndarray:
        """Embed queries made of a clip and a text ("like this clip but at night"): one row per pair.

        Video and text go in one user turn with the query instruction, as the model card's
        mixed-modality inputs do. Vectors live in the same space as ``embed_queries``.
        """
        if len(segments) != len(texts):
            raise UsageError(f"{len(segments)} clips but {len(texts)} texts for composed queries")
        full = [self.full_budget(s) for s in segments]
        vectors, _ = self._embed_videos(segments, QUERY_INSTRUCTION, list(texts), full)
        return vectors[0]

    def close(self) -> None:
        """Free the model's memory (and the GPU's cache); the embedder cannot be used afterwards."""
        self._model = None
        self._processor = None
        gc.collect()
        if self._device.startswith("cuda"):
            torch.cuda.empty_cache()

    # -- inside ----------------------------------------------------------------------------------

    def _prompt(self, instruction: str, *, video: bool, text: str | None) -> str:
        if self._processor is None:
            raise ModelError("the Qwen3-VL embedder was closed; load it again")
        content: list[dict[str, str]] = []
        if video:
            content.append({"type": "video"})
        if text is not None:
            content.append({"type": "text", "text": text})
        if not content:
            content.append({"type": "text", "text": ""})
        messages = [
            {"role": "system", "content": [{"type": "text", "text": instruction}]},
            {"role": "user", "content": content},
        ]
        prompt = self._processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # Give the processor a bare video token (see the module docstring: avoids nested markers).
        wrapped = "<|vision_start|><|video_pad|><|vision_end|>"
        return prompt.replace(wrapped, "<|video_pad|>")

    def check_layers(self, layers: Sequence[int]) -> list[int]:
        """``layers`` sorted without repeats, after checking each is past the layers that receive
        visual features and within the model's depth. Raises UsageError naming the allowed range."""
        if self._model is None:
            raise ModelError("the Qwen3-VL embedder was closed; load it again")
        fed = len(getattr(self._config.vision_config, "deepstack_visual_indexes", None) or ())
        chosen = sorted(set(layers))
        if not chosen or chosen[0] <= fed or chosen[-1] > self.depth:
            raise UsageError(
                f"layers must be between {fed + 1} and {self.depth} (got {', '.join(map(str, layers))}): "
                f"the first {fed} receive visual features and this model has {self.depth}"
            )
        return chosen

    def _embed_videos(
        self,
        segments: Sequence[Segment],
        instruction: str,
        texts: Sequence[str | None],
        budgets: Sequence[Budget],
        layers: Sequence[int] | None = None,
        *,
        drifts: list[float | None] | None = None,
    ) -> tuple[np.ndarray, list[MomentCost]]:
        """(layers or 1, n, dim) unit rows and one cost per segment.

        With ``drifts`` (a list of n), each moment's ``budget.visual_drift`` is written into it, read
        from the vision tower's output of the same pass.
        """
        vectors = np.zeros((len(layers or [None]), len(segments), self.dim), np.float32)
        costs = [MomentCost()] * len(segments)
        clips = [self._clip(segment, budget) for segment, budget in zip(segments, budgets, strict=True)]
        # moments with the same frame count and size (so the same budget) share a forward pass
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, (pixels, _) in enumerate(clips):
            groups.setdefault(pixels.shape, []).append(index)
        for members in groups.values():
            step = self._moments_per_forward(clips[members[0]][0].shape)
            for start in range(0, len(members), step):
                chunk = members[start : start + step]
                began = time.perf_counter()
                inputs = self._processor(
                    text=[self._prompt(instruction, video=True, text=texts[i]) for i in chunk],
                    videos=[clips[i][0] for i in chunk],
                    video_metadata=[clips[i][1] for i in chunk],
                    do_resize=False,
                    do_sample_frames=False,
                    padding=True,
                    return_tensors="pt",
                )
                grid = inputs["video_grid_thw"]
                with self._visual_features(drifts is not None) as seen:
                    vectors[:, chunk] = self._forward(inputs, layers)
                if drifts is not None and seen:
                    for i, slices in zip(chunk, _slice_means(seen[0], grid, self._merge), strict=True):
                        drifts[i] = visual_drift(slices)
                share = (time.perf_counter() - began) / len(chunk)
                for row, i in enumerate(chunk):
                    costs[i] = MomentCost(
                        frames=int(clips[i][0].shape[0]),
                        visual_tokens=int(grid[row].prod()) // self._merge**2,
                        exit_layer=self.exit_layer,
                        seconds=share,
                    )
        return vectors, costs

    @contextlib.contextmanager
    def _visual_features(self, wanted: bool) -> Iterator[list[torch.Tensor]]:
        """While open, the vision tower's merged output of each forward pass lands in the yielded list."""
        seen: list[torch.Tensor] = []
        visual = getattr(self._model, "visual", None) if wanted else None
        if visual is None:
            yield seen
            return

        def keep(_module, _inputs, out) -> None:
            pooled = getattr(out, "pooler_output", None)
            if isinstance(pooled, torch.Tensor):
                seen.append(pooled.detach())

        hook = visual.register_forward_hook(keep)
        try:
            yield seen
        finally:
            hook.remove()

    def _moments_per_forward(self, shape: tuple[int, ...]) -> int:
        """How many moments of ``shape`` (T, h, w, 3) one forward pass takes.

        ``batch_size``, and with ``patches_per_forward`` no more moments than fit in that many vision
        patches (at least one): cheap moments still share a pass, while a pass of full-budget
        moments holds one moment's activations instead of four.
        """
        if self.patches_per_forward is None:
            return self.batch_size
        patch = self._factor // self._merge
        patches = max(1, shape[0] // 2) * (shape[1] // patch) * (shape[2] // patch)
        return max(1, min(self.batch_size, self.patches_per_forward // patches))

    def _clip(self, segment: Segment, budget: Budget | None = None):
        """Pick an even number of frames, resize them to the model's grid; return (THWC uint8, metadata)."""
        from transformers.video_utils import VideoMetadata

        budget = budget or self.full_budget(segment)
        frames = _pick_frames(segment.frames, budget.frames)
        if not frames:
            raise ValueError(f"segment {segment.start:.2f}-{segment.end:.2f}s has no frames to embed")
        height, width = frames[0].image.shape[:2]
        if budget.side is None:  # the reference's size for this frame in a video of this many frames
            size = frame_grid(height, width, len(frames), self._factor)
        else:
            size = _grid_size(height, width, budget.side, self._factor)
        pixels = _resize([f.image for f in frames], size)
        # Times relative to the moment's first frame, so a moment embeds the same wherever it sits
        # in its video (the reference does the same for frame lists).
        first = frames[0].time
        indices = [round(max(0.0, f.time - first) * _TIME_RESOLUTION) for f in frames]
        metadata = VideoMetadata(
            total_num_frames=indices[-1] + 1,
            fps=_TIME_RESOLUTION,
            width=size[1],
            height=size[0],
            duration=(indices[-1] + 1) / _TIME_RESOLUTION,
            frames_indices=indices,
        )
        return pixels, metadata

    def _forward(self, inputs, layers: Sequence[int] | None = None) -> np.ndarray:
        """(len(layers) or 1, batch, dim) unit rows: the last real token's state at each layer."""
        if self._model is None:
            raise ModelError("the Qwen3-VL embedder was closed; load it again")
        batch = {
            key: value.to(self._device, self._dtype) if value.is_floating_point() else value.to(self._device)
            for key, value in inputs.items()
            if isinstance(value, torch.Tensor)
        }
        text_model = cast(Any, self._model.language_model)  # a transformers text model, see self._config
        captured: dict[int, torch.Tensor] = {}

        def keep(layer: int):
            def hook(_module, _inputs, out) -> None:
                captured[layer] = out[0] if isinstance(out, tuple) else out

            return hook

        hooks = [
            text_model.layers[layer - 1].register_forward_hook(keep(layer))
            for layer in (layers or [])
            if layer < self.depth
        ]
        try:
            with torch.inference_mode():
                final = self._model(**batch, use_cache=False).last_hidden_state
                mask = batch["attention_mask"]
                # last position whose mask is 1: right for right padding, left padding and no padding
                last = mask.shape[1] - 1 - mask.flip(dims=[1]).int().argmax(dim=1)
                rows = torch.arange(final.shape[0], device=final.device)
                states = []
                for layer in layers or [self.depth]:
                    # an earlier layer's state goes through the final norm, as a model cut there would
                    state = final if layer >= self.depth else text_model.norm(captured[layer])
                    states.append(F.normalize(state[rows, last].float()[:, : self.dim], p=2, dim=-1))
        finally:
            for hook in hooks:
                hook.remove()
        return torch.stack(states).cpu().numpy()


def _slice_means(features: torch.Tensor, grid: torch.Tensor, merge: int) -> list[np.ndarray]:
    """Split the vision tower's merged tokens of a batch per video, and average each temporal slice.

    Tokens come video after video, each video's slice after slice (time-major); returns one (T, D)
    array per video.
    """
    out = []
    start = 0
    for t, h, w in grid.tolist():
        per_slice = (h * w) // (merge * merge)
        tokens = features[start : start + t * per_slice].float()
        out.append(tokens.reshape(t, per_slice, -1).mean(dim=1).cpu().numpy())
        start += t * per_slice
    return out


def _pick_frames(frames: Sequence[Frame], count: int) -> list[Frame]:
    """At most ``count`` frames spread evenly over the moment; an odd number gets its last repeated
    (frames go to the model in pairs)."""
    picked = pick(frames, count)
    if len(picked) % 2:
        picked.append(picked[-1])
    return picked


def _grid_size(height: int, width: int, side: int, factor: int) -> tuple[int, int]:
    """(h, w) with the longest edge about ``side``, both multiples of ``factor`` (the vision grid)."""
    scale = min(1.0, side / max(height, width))
    h = max(factor, round(height * scale / factor) * factor)
    w = max(factor, round(width * scale / factor) * factor)
    return h, w


def _resize(images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Frames (HxWx3 uint8, possibly of different sizes) -> one (T, h, w, 3) uint8 array (bicubic, as
    the reference resizes)."""
    if len({i.shape for i in images}) > 1:
        return np.concatenate([resize_bicubic([i], size) for i in images])
    return resize_bicubic(images, size)
