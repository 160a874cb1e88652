"""How far cheaper embeddings agree with the reference ones, on the user's own library and model.

Three checks share this machinery (a spread-out sample of indexed moments decoded again, a set of
queries, cosine per moment and query, top-10 overlap per query): ``check_exit`` (layer exit against
full depth), ``check_precision`` (int8 against float) and ``check_budget`` (a budget setting, such as
``fast``, against the reference's full budget: every frame at the model's trained size).

A layer exit (``load(..., exit_layer=K)``) saves compute but puts vectors in another space, so the
user should see what it costs in search quality before re-indexing with it. ``check_exit`` decodes a
spread-out sample of indexed moments again, embeds them and a set of queries once with the full
model, reading the embedding at each asked-for layer K and at the last layer, and reports per K:

* moment cosine: how close each moment's layer-K vector is to its full-depth vector (mean, min);
* query cosine: the same for the query texts;
* top-10 overlap: for each query, the share of the 10 best sample moments at full depth that are
  also among the 10 best at layer K (queries and moments both read at K), averaged over queries.
  It is measured within the sample (default 50 moments), the only set embedded at every layer.

It also reports how close the re-computed full-depth vectors are to the stored ones (a check that
the sample was decoded and embedded as indexing did; about 1.0 expected).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsearch.errors import MediaError, UsageError
from vidsearch.types import MomentCost, Segment

if TYPE_CHECKING:
    from vidsearch.embed.budget import Budget, BudgetSetting
    from vidsearch.store import Store

DEFAULT_QUERIES = (
    "people talking",
    "a car driving on a road",
    "text on a screen",
    "a dog playing",
    "food being cooked",
    "a beach with waves",
    "a city street at night",
    "someone walking outdoors",
    "a group of people celebrating",
    "a presentation slide",
)
TOP = 10


@dataclass(frozen=True)
class LayerAgreement:
    """How layer ``layer``'s embeddings agree with full depth (see the module docstring)."""

    layer: int
    moment_cosine_mean: float
    moment_cosine_min: float
    query_cosine_mean: float
    top10_overlap: float  # 0..1


@dataclass(frozen=True)
class ExitReport:
    """What ``check_exit`` measured."""

    model: str
    depth: int  # decoder layers of the full model
    moments: int  # sample moments decoded and embedded
    queries: int
    stored_cosine: float | None  # mean cosine of re-computed full-depth vs stored vectors
    layers: list[LayerAgreement] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason" for videos that could not be read

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as plain text lines, one row per layer."""
        head = f"model {self.model}: {self.depth} layers; "
        head += f"{self.moments} sample moments, {self.queries} queries"
        if self.stored_cosine is not None:
            head += f"; re-computed vs stored vectors: cosine {self.stored_cosine:.4f}"
        columns = ("layer", "of depth", "moment cos", "min", "query cos", "top-10 overlap")
        widths = (5, 8, 10, 6, 9, 14)
        out = [head, " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))]
        for a in self.layers:
            out.append(
                f"{a.layer:>5} {a.layer / self.depth:>8.0%} {a.moment_cosine_mean:>10.4f} "
                f"{a.moment_cosine_min:>6.3f} {a.query_cosine_mean:>9.4f} {a.top10_overlap:>14.0%}"
            )
        out += [f"skipped {s}" for s in self.skipped]
        return out


def check_exit(
    store: Store,
    model_name: str,
    layers: Sequence[int],
    queries: Sequence[str] = DEFAULT_QUERIES,
    sample: int = 50,
    *,
    device: str = "auto",
    precision: str = "auto",
    embedder: Any = None,
) -> ExitReport:
    """Compare layer-exit embeddings with full-depth ones on ``sample`` moments of ``store``.

    ``model_name`` is a Qwen3-VL model (hub id or folder), loaded full depth on ``device`` unless an
    already loaded ``QwenVLEmbedder`` is passed as ``embedder`` (it is then not closed). ``layers``
    are the exit layers to check. Raises ``UsageError`` when the index is empty, no moment could be
    decoded, or the layers are impossible for the model.
    """
    ids = _sample_ids(store, queries, sample, "check-exit")
    with _model(embedder, model_name, device, precision) as embedder:
        depth = embedder.depth
        if embedder.exit_layer is not None:
            raise UsageError("check-exit needs the full-depth model, not one loaded with an exit layer")
        chosen = sorted({*layers, depth})
        embedder.check_layers(chosen)  # a clear error before any decoding
        moments = store.candidates(dict.fromkeys(ids, 0.0))
        segments, kept, skipped, budgets = _decode_as_indexed(moments, embedder)
        at = embedder.embed_moments_at_layers(segments, chosen, budgets)
        asked = embedder.embed_queries_at_layers(list(queries), chosen)
    stored_cosine = None
    if store.get_meta("model_id") == embedder.model_id:
        stored = store.vectors(kept)
        stored_cosine = float(np.mean(np.sum(stored * at[depth], axis=1)))
    full_scores = asked[depth] @ at[depth].T
    report = ExitReport(model_name, depth, len(segments), len(queries), stored_cosine, skipped=skipped)
    for layer in sorted(set(layers)):
        moment_cos = np.sum(at[layer] * at[depth], axis=1)
        query_cos = np.sum(asked[layer] * asked[depth], axis=1)
        report.layers.append(
            LayerAgreement(
                layer=layer,
                moment_cosine_mean=float(moment_cos.mean()),
                moment_cosine_min=float(moment_cos.min()),
                query_cosine_mean=float(query_cos.mean()),
                top10_overlap=_top_overlap(full_scores, asked[layer] @ at[layer].T),
            )
        )
    return report


def _sample_ids(store: Store, queries: Sequence[str], sample: int, check: str) -> list[int]:
    """Up to ``sample`` moment ids of ``store`` to compare on; UsageError without queries or moments."""
    if not queries:
        raise UsageError(f"{check} needs at least one query")
    ids = store.sample_moment_ids(sample)
    if not ids:
        raise UsageError(f"the index {store.path} has no moments yet; index some videos first")
    return list(ids)


@contextlib.contextmanager
def _model(embedder: Any, model_name: str, device: str, precision: str) -> Iterator[Any]:
    """``embedder`` when the caller lent one (left open), else ``model_name`` loaded and closed after."""
    if embedder is not None:
        yield embedder
        return
    from vidsearch.models import load_mllm

    loaded = load_mllm(model_name, device=device, precision=precision)
    try:
        yield loaded
    finally:
        loaded.close()


def _top_overlap(reference: np.ndarray, other: np.ndarray, top: int = TOP) -> float:
    """Mean over rows of |top-k(reference) & top-k(other)| / k (k = min(top, columns))."""
    k = min(top, reference.shape[1])
    best = np.argsort(-reference, axis=1)[:, :k]
    mine = np.argsort(-other, axis=1)[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(best, mine, strict=True)]))


def _decode_as_indexed(
    moments: Sequence[Any], embedder: Any
) -> tuple[list[Segment], list[int], list[str], list[Budget]]:
    """Decode sample moments (store candidates) as indexing did, under the budget setting each one
    recorded, and the budget indexing gave each (so re-computed vectors compare with stored ones).

    Returns (segments, their moment ids, "path: reason" for videos that failed, budgets). Raises
    ``UsageError`` when none could be decoded.
    """
    from vidsearch.embed.budget import SETTINGS

    by_side: dict[int, list[Any]] = defaultdict(list)
    setting_of: dict[int, BudgetSetting] = {}
    for moment in moments:
        setting = SETTINGS.get(str(moment.cost.get("setting") or ""), embedder.setting)
        setting_of[moment.moment_id] = setting
        by_side[setting.side or embedder.frame_side].append(moment)
    segments: list[Segment] = []
    kept: list[int] = []
    skipped: list[str] = []
    for side, group in by_side.items():
        found, ids, failed = _decode_moments(group, side)
        segments += found
        kept += ids
        skipped += failed
    if not segments:
        raise UsageError("none of the sample moments could be decoded again: " + "; ".join(skipped[:3]))
    recorded = {m.moment_id: str(m.cost.get("budget", "")) for m in moments}
    budgets = [embedder.budget_for(s, recorded[i], setting_of[i]) for s, i in zip(segments, kept, strict=True)]
    return segments, kept, skipped, budgets


def _decode_moments(moments: Sequence[Any], frame_side: int) -> tuple[list[Segment], list[int], list[str]]:
    """Decode the frames of each moment (store candidates) as indexing sampled them.

    Returns (segments, their moment ids, "path: reason" for videos that failed).
    """
    from vidsearch.media import decode
    from vidsearch.media.frames import sample_interval

    by_video: dict[str, list[Any]] = defaultdict(list)
    for moment in moments:
        if moment.available:
            by_video[moment.path].append(moment)
    segments: list[Segment] = []
    kept: list[int] = []
    skipped: list[str] = []
    for path, wanted in sorted(by_video.items()):
        try:
            info = decode.probe(path)
            spans = [(m.start, m.end) for m in wanted]
            frames = decode.frames_in_spans(path, spans, sample_interval(info.duration), frame_side, info)
        except (MediaError, OSError) as e:
            skipped.append(f"{path}: {e}")
            continue
        for m, got in zip(wanted, frames, strict=True):
            if got:
                segments.append(Segment(m.start, m.end, tuple(got)))
                kept.append(m.moment_id)
    return segments, kept, skipped


@dataclass(frozen=True)
class AgreementReport:
    """What ``check_precision`` or ``check_budget`` measured: ``candidate`` vectors against ``reference`` ones."""

    model: str
    reference: str  # how the reference vectors were computed (a precision, a budget setting)
    candidate: str
    moments: int
    queries: int
    moment_cosine_mean: float
    moment_cosine_min: float
    query_cosine_mean: float
    top10_overlap: float  # 0..1
    skipped: list[str] = field(default_factory=list)
    # mean visual tokens per sample moment under each (budget checks; None where not measured)
    reference_tokens: float | None = None
    candidate_tokens: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as plain text lines."""
        out = [
            f"model {self.model}: {self.candidate} against {self.reference}; "
            f"{self.moments} sample moments, {self.queries} queries",
            f"moment cosine mean {self.moment_cosine_mean:.4f} (min {self.moment_cosine_min:.4f}); "
            f"query cosine mean {self.query_cosine_mean:.4f}; top-10 overlap {self.top10_overlap:.0%}",
        ]
        if self.reference_tokens is not None and self.candidate_tokens is not None:
            ratio = self.reference_tokens / self.candidate_tokens if self.candidate_tokens else float("inf")
            out.append(
                f"visual tokens per moment: {self.candidate_tokens:.0f} against {self.reference_tokens:.0f} "
                f"({ratio:.2f}x fewer)"
            )
        return out + [f"skipped {s}" for s in self.skipped]


PrecisionReport = AgreementReport  # the name check_precision's report had first


def _agreement(
    model: str,
    names: tuple[str, str],
    reference: tuple[np.ndarray, np.ndarray],
    candidate: tuple[np.ndarray, np.ndarray],
    skipped: list[str],
    **extra: Any,
) -> AgreementReport:
    """Compare (moment vectors, query vectors) computed two ways, named (reference, candidate)."""
    (ref_m, ref_q), (can_m, can_q) = reference, candidate
    moment_cos = np.sum(ref_m * can_m, axis=1)
    return AgreementReport(
        model=model,
        reference=names[0],
        candidate=names[1],
        moments=len(ref_m),
        queries=len(ref_q),
        moment_cosine_mean=float(moment_cos.mean()),
        moment_cosine_min=float(moment_cos.min()),
        query_cosine_mean=float(np.sum(ref_q * can_q, axis=1).mean()),
        top10_overlap=_top_overlap(ref_q @ ref_m.T, can_q @ can_m.T),
        skipped=skipped,
        **extra,
    )


def check_precision(
    store: Store,
    model_name: str,
    candidate: str,
    queries: Sequence[str] = DEFAULT_QUERIES,
    sample: int = 50,
    *,
    device: str = "auto",
    reference: str = "auto",
) -> PrecisionReport:
    """Compare embeddings in ``candidate`` precision (e.g. int8) with ``reference`` ones on ``sample``
    moments of ``store`` and ``queries``: cosine per moment and query, and top-10 overlap per query.

    ``reference`` "auto" is the device's float choice (fp32 where ``auto`` would quantize). The two
    models are loaded one after the other, never together. Raises ``UsageError`` when the index is
    empty, no moment could be decoded again, or a precision is impossible on the device.
    """
    from vidsearch.device import pick_device, pick_precision
    from vidsearch.models import load_mllm

    ids = _sample_ids(store, queries, sample, "check-precision")
    where = pick_device(device)
    if reference == "auto":
        reference = pick_precision(where, "auto").name
        reference = "fp32" if reference in ("int8", "int4") else reference
    pick_precision(where, candidate)  # a clear error before any loading or decoding
    moments = store.candidates(dict.fromkeys(ids, 0.0))
    results = []
    segments: list[Segment] = []
    skipped: list[str] = []
    for precision in (reference, candidate):
        embedder = load_mllm(model_name, device=where, precision=precision)
        try:
            if not segments:
                segments, _, skipped = _decode_moments(moments, embedder.frame_side)
                if not segments:
                    raise UsageError("none of the sample moments could be decoded again: " + "; ".join(skipped[:3]))
            vectors, _ = embedder.embed_moments(segments)
            results.append((vectors, embedder.embed_queries(list(queries)), embedder.precision.name))
        finally:
            embedder.close()
    (ref_m, ref_q, ref_name), (can_m, can_q, can_name) = results
    return _agreement(model_name, (ref_name, can_name), (ref_m, ref_q), (can_m, can_q), skipped)


def check_budget(
    store: Store,
    model_name: str,
    candidate: str | BudgetSetting = "fast",
    queries: Sequence[str] = DEFAULT_QUERIES,
    sample: int = 50,
    *,
    reference: str | BudgetSetting = "full",
    device: str = "auto",
    precision: str = "auto",
    embedder: Any = None,
) -> AgreementReport:
    """Compare embeddings under the budget setting ``candidate`` (fast, faithful, or a ``BudgetSetting``)
    with ones under ``reference`` (default: the reference's full budget) on ``sample`` moments of
    ``store`` and ``queries``: cosine per moment, top-10 overlap per query, visual tokens per moment.

    Each setting decodes the moments at its own frame size and chooses its own budgets (as indexing
    under it would); the model (``model_name``, or an already loaded ``QwenVLEmbedder`` passed as
    ``embedder``, then not closed) is loaded once. Query vectors do not depend on the budget. Raises
    ``UsageError`` for an unknown setting, an empty index, or no moment decoded again.
    """
    from vidsearch.embed.budget import setting_named
    from vidsearch.embed.qwen_frames import DECODE_SIDE

    settings = (setting_named(reference), setting_named(candidate))
    ids = _sample_ids(store, queries, sample, "check-budget")
    with _model(embedder, model_name, device, precision) as embedder:
        moments = store.candidates(dict.fromkeys(ids, 0.0))
        decoded = {side: _decode_moments(moments, side) for side in {s.side or DECODE_SIDE for s in settings}}
        common = set.intersection(*(set(ids) for _, ids, _ in decoded.values()))
        if not common:
            skipped = [s for _, _, failed in decoded.values() for s in failed]
            raise UsageError("none of the sample moments could be decoded again: " + "; ".join(skipped[:3]))
        asked = embedder.embed_queries(list(queries))
        results = []
        for setting in settings:
            found, kept, _ = decoded[setting.side or DECODE_SIDE]
            segments = [s for s, i in sorted(zip(found, kept, strict=True), key=lambda p: p[1]) if i in common]
            vectors, costs = embedder.embed_moments(segments, setting)
            results.append((vectors, _mean_tokens(costs)))
    skipped = sorted({s for _, _, failed in decoded.values() for s in failed})
    (ref_m, ref_tokens), (can_m, can_tokens) = results
    names = (settings[0].name, settings[1].name)
    return _agreement(
        model_name, names, (ref_m, asked), (can_m, asked), skipped,
        reference_tokens=ref_tokens, candidate_tokens=can_tokens,
    )  # fmt: skip


def _mean_tokens(costs: Sequence[MomentCost]) -> float:
    return float(np.mean([c.visual_tokens for c in costs])) if costs else 0.0
