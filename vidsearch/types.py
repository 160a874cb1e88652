"""Plain records passed between the stages (scan, decode, segment, embed, store, query, present).

Times are float seconds from the start of the video everywhere; formatting happens in ``present``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What decode learns about a video file without decoding its frames."""

    path: str
    duration: float  # seconds
    fps: float  # average frame rate (0.0 when unknown)
    width: int  # display width, after rotation
    height: int  # display height, after rotation
    rotation: int  # degrees the frames are turned to display upright (0, 90, 180, 270)
    codec: str
    created: float | None = None  # unix time from container metadata, when present


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture: ``image`` is HxWx3 uint8 RGB, upright (rotation applied)."""

    time: float
    image: np.ndarray


@dataclass(frozen=True)
class Segment:
    """A moment found by the segmenter, with the frames sampled inside it (in time order)."""

    start: float
    end: float
    frames: tuple[Frame, ...] = field(default=(), compare=False, repr=False)


# Ends the budget reason of a moment embedded again at the full budget (vidsearch.embed.budget.escalate);
# the store counts such moments by it.
ESCALATED = "embedded again at the full budget"


@dataclass(frozen=True)
class MomentCost:
    """What embedding one moment cost; stored with the moment and shown by ``find --json``."""

    frames: int = 0
    visual_tokens: int = 0
    exit_layer: int | None = None
    seconds: float = 0.0
    budget: str = ""  # why the moment got its frames and size, in words ("" where no policy chose)
    # the budget setting it was embedded under: "faithful" (frames as the model was trained on), "fast"
    # (frames below the model's minimum size, opted into), "full"; "" where none was recorded
    setting: str = ""
    # What the model read on screen (the lite model's OCR), kept so its exact words can be searched;
    # not a cost, so not in ``as_dict``. "" where the model reads no text or there was none.
    screen_text: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "visual_tokens": self.visual_tokens,
            "exit_layer": self.exit_layer,
            "seconds": round(self.seconds, 4),
            "budget": self.budget,
            "setting": self.setting,
        }


@dataclass(frozen=True)
class Hit:
    """One search result: a span of one video and how well it matched."""

    path: str
    start: float
    end: float
    score: float
    video_id: int = 0
    moment_ids: tuple[int, ...] = ()
    available: bool = True  # False when the file's root is offline
    details: dict[str, object] = field(default_factory=dict, compare=False)
