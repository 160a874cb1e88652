"""Plain records passed between the stages (scan, decode, segment, embed, store, query, present).

Times are float seconds from the start of the video everywhere; formatting happens in ``present``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    # the container's tags, then each stream's for keys the container lacks (what
    # ``vidsearch.media.metadata`` reads the recording time, position and camera from)
    tags: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class VideoFacts:
    """When and where a video was filmed, and with what, as the index keeps it.

    Read from the file's headers and name (``vidsearch.media.facts``); times are unix seconds.
    """

    recorded: float | None = None  # when recording began (UTC)
    # the same instant as the wall clock where it was filmed, counted as if it were UTC: what date
    # filters compare, so "July 4" means July 4 where the clip was filmed
    recorded_local: float | None = None
    recorded_source: str = ""  # where ``recorded`` came from (vidsearch.media.metadata's FROM_* names)
    tz_offset: int | None = None  # minutes east of UTC, when the file says
    lat: float | None = None  # degrees (WGS 84)
    lon: float | None = None
    place: str | None = None  # for people: "Lisbon, Portugal"
    place_names: tuple[str, ...] = ()  # every name of the place, folded: ("baixa", "lisbon", "portugal")
    country: str | None = None  # ISO 3166 alpha-2 code of the place
    region: str | None = None  # state, province or region, as the place table names it
    camera_make: str | None = None
    camera_model: str | None = None
    version: int = 0  # how they were read (vidsearch.media.facts.FACTS_VERSION); older ones are read again

    @property
    def camera(self) -> str | None:
        """Make and model for people: ``"Apple iPhone 13"``; None when unknown."""
        from vidsearch.media.metadata import camera_name

        return camera_name(self.camera_make, self.camera_model)


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
    facts: VideoFacts | None = field(default=None, compare=False)  # when and where the video was filmed


@dataclass(frozen=True)
class MomentThumbnails:
    """The pictures a moment is shown by: a still and a strip of a few frames side by side (both JPEG).

    The strip's frames have equal widths, so a page can show frame ``i`` of ``strip_frames`` by offset.
    """

    still: bytes
    strip: bytes
    strip_frames: int


@dataclass(frozen=True)
class Root:
    """A library root: a folder (or file) ``index`` was given, whether it is there now, and how many
    videos and moments the index holds under it."""

    path: str
    online: bool
    videos: int = 0
    moments: int = 0
