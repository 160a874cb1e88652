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

Settings (``BudgetSetting``): what a budget may change. ``faithful`` (the default) keeps every frame
at the size the model's reference preprocessing gives it (``side`` None) and saves only where the
model still sees frames like those it was trained on: fewer frames for still or slowly changing
moments, and a still moment showing the same picture as the one before it shares that moment's
vector (``same_picture``). ``fast`` also shrinks frames (to at most 256 px, 128 px for a still shot),
below the smallest frame the model was trained on: cheaper, but its effect on search quality has to
be measured (``vidsearch models --check-budget fast``). ``full`` is the reference: every moment at the
full budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vidsearch.media.frames import cell_means, difference, edge_share, grey, thumbnail
from vidsearch.types import ESCALATED, Frame, Segment

_GREY_SIDE = 128  # longest side of the grey pictures motion is measured on
_CELL = 8  # cells of the grey pictures for the "changed" share
_CELL_CHANGE = 0.025  # a cell whose mean difference is above this changed
# A plainly different shot, on the segmenter's scale. The segmenter cuts from 0.06 but also needs a spike
# over recent differences; without that rule here, 0.12 keeps a moving object (<= 0.08) from counting.
_CUT = 0.12
_EDGE = 80  # a horizontal jump of this many levels (of 255) between neighbours is a strong edge
SHARED = "same picture as"  # begins the reason of a moment that shares an earlier moment's vector


@dataclass(frozen=True)
class Budget:
    """What one moment may cost: ``frames`` (even, >= 2) at ``side`` pixels on the longest edge.

    ``side`` None means the frame size of the model's reference preprocessing (never below its minimum).
    """

    frames: int
    side: int | None
    reason: str = ""

    def describe(self) -> str:
        """"4x160" (frames x side) or "4 frames" at the reference's size."""
        return f"{self.frames} frames" if self.side is None else f"{self.frames}x{self.side}"

    def cheaper_than(self, other: Budget) -> bool:
        """Whether this budget spends less than ``other``: fewer frames, or smaller frames."""
        if self.frames < other.frames:
            return True
        if self.side is None:
            return False
        return other.side is None or self.side < other.side


@dataclass(frozen=True)
class BudgetSetting:
    """What the per-moment budget may change (module docstring); stored with each moment by name."""

    name: str
    adaptive: bool = True  # a budget per moment from its signals (else every moment gets the full budget)
    side: int | None = None  # None: the reference's frame size; else the longest edge, in pixels
    frames: int | None = None  # None: the reference's frame count for the moment; else this many at most
    share: bool = True  # a still moment showing the picture of the moment before shares its vector

    @property
    def below_minimum(self) -> bool:
        """Whether frames may be smaller than the model was trained on (a measured, opt-in choice)."""
        return self.side is not None


FAITHFUL = BudgetSetting("faithful")
FAST = BudgetSetting("fast", side=256, frames=8)
FULL = BudgetSetting("full", adaptive=False, share=False)
SETTINGS = {s.name: s for s in (FAITHFUL, FAST, FULL)}


def setting_named(name: str | BudgetSetting) -> BudgetSetting:
    """The setting called ``name`` (faithful, fast, full); a ``BudgetSetting`` passes through.

    Raises ``UsageError`` for an unknown name, listing the choices.
    """
    if isinstance(name, BudgetSetting):
        return name
    found = SETTINGS.get(name.strip().lower())
    if found is None:
        from vidsearch.errors import UsageError

        raise UsageError(f"unknown budget {name!r}: choose faithful (the default), fast or full")
    return found


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
    # Two still moments share one vector when no cell (1/64 of the picture) of their mean grey pictures
    # differs by this much: the cell threshold of "changed", so what counts as no change between frames
    # counts as the same picture between moments. None: never share.
    same_picture: float | None = _CELL_CHANGE


DEFAULT_POLICY = Policy()


def choose_budget(
    segment: Segment,
    max_frames: int = 8,
    max_side: int | None = 256,
    *,
    min_frames: int = 2,
    policy: Policy = DEFAULT_POLICY,
) -> Budget:
    """Pick the frames and frame size to embed ``segment`` with (see the module docstring).

    ``max_frames``/``max_side`` are the full budget (what a fixed-budget embedder spends everywhere).
    Frame counts are even (the model merges frames in pairs) and never above ``max_frames``; a moment
    with fewer sampled frames than its budget simply uses what it has (the embedder pads to even).
    ``max_side`` None keeps every frame at the reference's size: only the frame count changes.
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
    if max_side is None or detailed or busy:
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
    if drift is None or policy.settle_drift is None or not budget.cheaper_than(full):
        return None
    if drift < policy.settle_drift:
        return None
    why = f"{budget.reason}; visual drift {drift:.3f} >= {policy.settle_drift:g} at {budget.describe()}"
    return Budget(full.frames, full.side, f"{why}: {ESCALATED}")


def settled(budget: Budget, drift: float | None) -> Budget:
    """``budget`` with the drift it was measured at added to its reason (unchanged when not measured)."""
    if drift is None:
        return budget
    return Budget(budget.frames, budget.side, f"{budget.reason}; visual drift {drift:.3f}")


def same_picture(earlier: Segment, later: Segment, policy: Policy = DEFAULT_POLICY) -> bool:
    """Whether two still moments show the same picture, so ``later`` may share ``earlier``'s vector.

    Both must be still (no cut, nothing moving or slowly changing, by ``policy``), and no cell of their
    mean grey pictures may differ by ``policy.same_picture`` or more.
    """
    if policy.same_picture is None or not earlier.frames or not later.frames:
        return False
    pictures = []
    for segment in (earlier, later):
        signals = measure(segment.frames)
        moving = signals.changed >= policy.moving_changed or signals.motion >= policy.moving_motion
        if signals.cuts or moving or signals.span >= policy.moving_span:
            return False
        pictures.append(np.mean([_grey(f.image) for f in (segment.frames[0], segment.frames[-1])], axis=0))
    if pictures[0].shape != pictures[1].shape:
        return False
    return bool(cell_means(np.abs(pictures[0] - pictures[1]), _CELL).max() < policy.same_picture)


def shared(budget: Budget, earlier: Segment) -> Budget:
    """``budget`` saying the moment shares the vector of the moment ``earlier`` (same still picture)."""
    return replace(budget, reason=f"{SHARED} {earlier.start:.1f}-{earlier.end:.1f} s: {budget.reason}")


def measure(frames: tuple[Frame, ...] | list[Frame]) -> Signals:
    """The policy's signals over a moment's frames (in time order); all zero for fewer than 2 frames."""
    if not frames:
        return Signals(0.0, 0.0, 0, 0.0)
    detail = _detail(frames[len(frames) // 2].image)
    if len(frames) < 2:
        return Signals(0.0, 0.0, 0, detail)
    greys = [_grey(f.image) for f in frames]
    span = float(np.abs(greys[0] - greys[-1]).mean()) if greys[0].shape == greys[-1].shape else 1.0
    colours = [thumbnail(f.image, 16) for f in frames]
    motions: list[float] = []
    changed: list[float] = []
    cuts = 0
    for a, b, ca, cb in zip(greys, greys[1:], colours, colours[1:], strict=False):
        if a.shape != b.shape:
            cuts += 1  # the picture size changed: a new shot
            continue
        diff = np.abs(a - b)
        motions.append(float(diff.mean()))
        changed.append(float((cell_means(diff, _CELL) > _CELL_CHANGE).mean()))
        if difference(ca, cb) > _CUT:
            cuts += 1
    motion = float(np.mean(motions)) if motions else 0.0
    share = float(np.mean(changed)) if changed else 0.0
    return Signals(motion, share, cuts, detail, span)


def _grey(image: np.ndarray) -> np.ndarray:
    return grey(image, _GREY_SIDE)


def _detail(image: np.ndarray) -> float:
    """Share of pixels with a strong horizontal edge (text strokes, fine texture)."""
    return edge_share(image[..., :3].astype(np.int16).sum(axis=-1) // 3, _EDGE)
