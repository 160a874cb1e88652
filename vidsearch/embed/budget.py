"""How many frames, at what size, a moment is worth: spend compute where a video needs it.

The Qwen3-VL vision tower costs about linearly in frames x pixels, and it is most of the cost of
embedding a clip. A still shot of a sleeping cat says everything in two small frames; a busy street
needs many frames, and a slide full of text needs pixels (but not many frames). So each moment gets
a ``Budget`` chosen from five cheap signals over the frames decode already sampled (pure numpy, a
few milliseconds per moment):

* ``motion``: mean absolute difference (0..1) between consecutive frames, on grey pictures reduced
  to at most 128 pixels a side (area average, so compression noise cancels but texture motion stays);
* ``changed``: the share of 8x8 cells of those grey pictures whose mean difference is above 0.025 (a
  talking head changes a small share, a busy street most of the picture);
* ``cuts``: consecutive frames that look like different shots (16x16 colour thumbnails differ by
  more than 0.12 on the segmenter's scale); several shots merged into one moment are busy;
* ``detail``: the share of pixels with a strong horizontal edge (a jump of 80/255 or more between
  neighbours) in the middle frame: text and fine detail need resolution;
* ``span``: mean absolute difference between the first and the last frame's grey pictures: a slow
  change (a dissolve, a sunset, a time-lapse) moves little between neighbouring frames but a lot
  over the moment.

The policy (thresholds in ``Policy``), from the cheapest to the full budget:

* frames: ``max_frames`` when there is a cut or at least ``busy_changed`` of the picture changes;
  half of it when something moves (``moving_changed`` or ``moving_motion``) or slowly changes
  (``moving_span``); else ``min_frames``;
* side: ``max_side`` when ``detail`` is at least ``detail_share`` or the moment is busy; 5/8 of it when
  something moves; else half of it.

Then the model's own view (ViLL-E's "think longer" where the embedding has not settled): a moment given
fewer frames than the full budget but at least two frame pairs is embedded, and the embedder reads
``visual_drift``: how far the vision tower's pooled features move when the second half of the frames
joins the first (1 - cosine of the two means). A moment whose features still move by
``settle_drift`` or more is embedded again at the full budget (``escalate``); one that settled keeps
its cheap embedding. The check costs nothing for a moment that settles (the features come from the
pass it gets anyway) and one extra pass for a moment that does not.

The full budget (``max_frames`` at ``max_side``) is what a fixed-budget embedder spends on every
moment. ``Budget.reason`` says in words which signals decided, so a user can see why a moment cost
what it cost (``find --json`` shows it as ``cost.budget``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsearch.types import ESCALATED, Frame, Segment

_GREY_SIDE = 128  # longest side of the grey pictures motion is measured on
_CELL = 8  # cells of the grey pictures for the "changed" share
_CELL_CHANGE = 0.025  # a cell whose mean difference is above this changed
# A plainly different shot, on the segmenter's scale. The segmenter cuts from 0.06 but also needs a spike
# over recent differences; without that rule here, 0.12 keeps a moving object (<= 0.08) from counting.
_CUT = 0.12
_EDGE = 80  # a horizontal jump of this many levels (of 255) between neighbours is a strong edge


@dataclass(frozen=True)
class Budget:
    """What one moment may cost: ``frames`` (even, >= 2) at ``side`` pixels on the longest edge."""

    frames: int
    side: int
    reason: str = ""

    @property
    def pixels(self) -> int:
        """frames x side x side: proportional to vision-tower work; lets budgets be compared."""
        return self.frames * self.side * self.side


@dataclass(frozen=True)
class Signals:
    """What ``measure`` found in a moment's frames (see the module docstring)."""

    motion: float
    changed: float
    cuts: int
    detail: float
    span: float = 0.0

    def describe(self) -> str:
        return (
            f"motion {self.motion:.3f}, changed {self.changed:.0%}, cuts {self.cuts}, "
            f"detail {self.detail:.1%}, span {self.span:.3f}"
        )


@dataclass(frozen=True)
class Policy:
    """Thresholds of the budget policy (module docstring); the defaults are what vidsearch uses."""

    busy_changed: float = 0.25  # share of the picture changing between frames that makes a moment busy
    moving_changed: float = 0.01  # share of the picture changing that counts as "something moves"
    moving_motion: float = 0.01  # ... or this mean difference over the whole picture
    detail_share: float = 0.008  # share of strong-edge pixels that asks for full resolution
    moving_span: float = 0.03  # first-to-last difference that counts as a slow change
    # Visual drift at which a cheap moment is embedded again at the full budget; None: never. Chosen on
    # random-weight models (real weights cannot be fetched here): a dissolve between two pictures
    # measured 0.029-0.033 on the 2B shape (benchmarks/embed_cost.py) and 0.076 on the tests' tiny
    # model, a talking head 0.001 or less and a moving shape 0.002: 0.01 lies 3x below the one and 5x
    # above the others.
    settle_drift: float | None = 0.01


DEFAULT_POLICY = Policy()


def choose_budget(
    segment: Segment,
    max_frames: int = 8,
    max_side: int = 256,
    *,
    min_frames: int = 2,
    policy: Policy = DEFAULT_POLICY,
) -> Budget:
    """Pick the frames and frame size to embed ``segment`` with (see the module docstring).

    ``max_frames``/``max_side`` are the full budget (what a fixed-budget embedder spends everywhere).
    Frame counts are even (the model merges frames in pairs) and never above ``max_frames``; a moment
    with fewer sampled frames than its budget simply uses what it has (the embedder pads to even).
    """
    max_frames = max(2, max_frames - max_frames % 2)
    min_frames = min(max(2, min_frames - min_frames % 2), max_frames)
    half_frames = min(max_frames, max(min_frames, (max_frames // 2) - (max_frames // 2) % 2))
    signals = measure(segment.frames)
    described = signals.describe()
    busy = signals.cuts > 0 or signals.changed >= policy.busy_changed
    moving = signals.changed >= policy.moving_changed or signals.motion >= policy.moving_motion
    changing = signals.span >= policy.moving_span
    detailed = signals.detail >= policy.detail_share
    if busy:
        frames, what = max_frames, "busy" if signals.cuts == 0 else "shot changes"
    elif moving:
        frames, what = half_frames, "some motion"
    elif changing:
        frames, what = half_frames, "slow change"
    else:
        frames, what = min_frames, "static"
    if detailed or busy:
        side = max_side
    elif moving or changing:
        side = max_side * 5 // 8
    else:
        side = max_side // 2
    if detailed:
        what += ", fine detail/text"
    return Budget(frames, side, f"{what} ({described})")


def visual_drift(slices: np.ndarray) -> float | None:
    """How far a moment's pooled visual features move when its later frames join the earlier ones.

    ``slices`` is (T, D): the vision tower's output averaged over each temporal slice (a pair of
    frames), in time order. Returns 1 - cosine(mean of the first half of the slices, mean of all of
    them): 0 when the later frames add nothing new, larger as they show something else. None for fewer
    than two slices (nothing to compare).
    """
    slices = np.asarray(slices, dtype=np.float64)
    if slices.ndim != 2 or len(slices) < 2:
        return None
    early, whole = slices[: len(slices) // 2].mean(axis=0), slices.mean(axis=0)
    norms = float(np.linalg.norm(early) * np.linalg.norm(whole))
    if norms == 0.0:
        return 0.0
    return max(0.0, 1.0 - float(early @ whole) / norms)


def escalate(budget: Budget, drift: float | None, full: Budget, policy: Policy = DEFAULT_POLICY) -> Budget | None:
    """The full budget, with the reason, when ``drift`` says ``budget`` did not settle; else None."""
    if drift is None or policy.settle_drift is None or budget.pixels >= full.pixels:
        return None
    if drift < policy.settle_drift:
        return None
    why = f"{budget.reason}; visual drift {drift:.3f} >= {policy.settle_drift:g} at {budget.frames}x{budget.side}"
    return Budget(full.frames, full.side, f"{why}: {ESCALATED}")


def settled(budget: Budget, drift: float | None) -> Budget:
    """``budget`` with the drift it was measured at added to its reason (unchanged when not measured)."""
    if drift is None:
        return budget
    return Budget(budget.frames, budget.side, f"{budget.reason}; visual drift {drift:.3f}")


def measure(frames: tuple[Frame, ...] | list[Frame]) -> Signals:
    """The policy's signals over a moment's frames (in time order); all zero for fewer than 2 frames."""
    if not frames:
        return Signals(0.0, 0.0, 0, 0.0)
    detail = _detail(frames[len(frames) // 2].image)
    if len(frames) < 2:
        return Signals(0.0, 0.0, 0, detail)
    greys = [_grey(f.image) for f in frames]
    span = float(np.abs(greys[0] - greys[-1]).mean()) if greys[0].shape == greys[-1].shape else 1.0
    colours = [_thumbnail(f.image, 16) for f in frames]
    motions: list[float] = []
    changed: list[float] = []
    cuts = 0
    for a, b, ca, cb in zip(greys, greys[1:], colours, colours[1:], strict=False):
        if a.shape != b.shape:
            cuts += 1  # the picture size changed: a new shot
            continue
        diff = np.abs(a - b)
        motions.append(float(diff.mean()))
        changed.append(float((_cells(diff) > _CELL_CHANGE).mean()))
        if float(np.abs(ca - cb).mean()) > _CUT:
            cuts += 1
    motion = float(np.mean(motions)) if motions else 0.0
    share = float(np.mean(changed)) if changed else 0.0
    return Signals(motion, share, cuts, detail, span)


def _thumbnail(image: np.ndarray, side: int) -> np.ndarray:
    """Area-average an HxWxC uint8 image so its longest edge is at most ``side``; float32 0..1."""
    h, w = image.shape[:2]
    step = max(1, -(-max(h, w) // side))  # ceil
    hh, ww = (h // step) * step, (w // step) * step
    if hh == 0 or ww == 0:
        return image.astype(np.float32) / 255.0
    cropped = image[:hh, :ww].astype(np.float32)
    pooled = cropped.reshape(hh // step, step, ww // step, step, -1).mean(axis=(1, 3))
    return pooled / 255.0


def _grey(image: np.ndarray) -> np.ndarray:
    return _thumbnail(image[..., :3], _GREY_SIDE).mean(axis=-1)


def _cells(diff: np.ndarray) -> np.ndarray:
    """Mean of ``diff`` over a grid of about _CELL x _CELL cells."""
    h, w = diff.shape
    rows = np.unique(np.linspace(0, h, min(_CELL, h) + 1).astype(int)[:-1])
    cols = np.unique(np.linspace(0, w, min(_CELL, w) + 1).astype(int)[:-1])
    sums = np.add.reduceat(np.add.reduceat(diff, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, h)), np.diff(np.append(cols, w)))
    return sums / counts


def _detail(image: np.ndarray) -> float:
    """Share of pixels with a strong horizontal edge (text strokes, fine texture)."""
    grey = image[..., :3].astype(np.int16).sum(axis=-1) // 3
    if grey.shape[1] < 2:
        return 0.0
    jumps = np.abs(np.diff(grey, axis=1))
    return float((jumps >= _EDGE).mean())
