"""What a picture looks like, from its pixels alone: light, colours, sky, greenery, snow.

An ImageNet classifier names objects, but people search as much by how a scene looks ("at
night", "under a blue sky", "a woman in a white dress", "black and white"), which its 1000
classes barely cover. These cues come from simple colour statistics of a few small thumbnails
(no model, well under a millisecond a frame), each as a strength in 0..1 with a phrase that says
it in words, so that a backend working in a sentence space can place a moment near queries
that use those words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidsearch.media import frames

THUMB = 64  # side of the thumbnail the statistics are taken on

# Each cue's phrase: how people say it.
PHRASES: dict[str, str] = {
    "dark": "a dark scene at night, dim light",
    "bright": "a bright scene in daylight",
    "monochrome": "a black and white picture, monochrome",
    "blue sky": "a blue sky",
    "grey sky": "a grey overcast sky",
    "dark sky": "a dark sky",
    "greenery": "green grass and plants",
    "warm light": "warm golden light",
    "snow": "snow on the ground, a snowy winter scene",
}
COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown")
for _colour in COLOURS:
    PHRASES[f"colour {_colour}"] = f"{_colour} colour, something {_colour}"
NAMES: tuple[str, ...] = tuple(PHRASES)

# Hue ranges (degrees) of the chromatic colour names; what is left of 15-45 degrees and dark is brown.
_HUES = (("red", 345, 360), ("red", 0, 15), ("orange", 15, 40), ("yellow", 40, 70), ("green", 70, 165),
         ("teal", 165, 195), ("blue", 195, 255), ("purple", 255, 290), ("pink", 290, 345))


def _hsv(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation and value in 0..1, of a thumbnail (longest side THUMB, the frame's
    shape kept)."""
    hue, sat, val = frames.hsv(frames.thumbnail(image, THUMB))
    return (hue * 360.0).astype(np.float32), sat.astype(np.float32), val.astype(np.float32)


def colour_shares(hue: np.ndarray, sat: np.ndarray, val: np.ndarray) -> dict[str, float]:
    """Share of the pixels (0..1) that a person would call each colour name of ``COLOURS``."""
    black = val < 0.18
    white = (val > 0.78) & (sat < 0.15)
    grey = ~black & ~white & (sat < 0.15)
    chromatic = ~black & ~white & ~grey
    brown = chromatic & (hue >= 15) & (hue < 45) & (val < 0.6)
    shares = dict.fromkeys(COLOURS, 0.0)
    shares["black"], shares["white"], shares["grey"] = float(black.mean()), float(white.mean()), float(grey.mean())
    shares["brown"] = float(brown.mean())
    for name, lo, hi in _HUES:
        shares[name] += float((chromatic & ~brown & (hue >= lo) & (hue < hi)).mean())
    return shares


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def frame_cues(image: np.ndarray) -> dict[str, float]:
    """The strength (0..1) of every cue in ``NAMES`` for one RGB frame (HxWx3 uint8)."""
    hue, sat, val = _hsv(image)
    shares = colour_shares(hue, sat, val)
    rows = val.shape[0]  # the thumbnail keeps the frame's shape: thirds and halves of its own height
    third, half = max(1, rows // 3), rows // 2
    top = colour_shares(hue[:third], sat[:third], val[:third])
    bottom = colour_shares(hue[half:], sat[half:], val[half:])
    light, top_light = float(val.mean()), float(val[:third].mean())
    cues = {
        "dark": _clip((0.3 - light) / 0.15),
        "bright": _clip((light - 0.55) / 0.2),
        "monochrome": _clip((0.12 - float(sat.mean())) / 0.08),
        # the top third of the picture is where the sky is, when there is one
        "blue sky": _clip(1.5 * top["blue"] + 0.5 * top["teal"]) * _clip((top_light - 0.35) / 0.2),
        "grey sky": _clip(1.2 * (top["white"] + top["grey"])) * _clip((top_light - 0.45) / 0.2),
        "dark sky": _clip((0.3 - top_light) / 0.15),
        "greenery": _clip(2.0 * bottom["green"]),
        "warm light": _clip(2.0 * (shares["orange"] + shares["yellow"] + 0.5 * (shares["red"] + shares["brown"])) - 0.3)
        * float(light > 0.25),
        # snow: the lower half mostly white, under some light
        "snow": _clip((bottom["white"] - 0.35) / 0.3) * _clip((light - 0.45) / 0.15),
    }
    cues.update({f"colour {c}": shares[c] for c in COLOURS})
    return cues


def scene_cues(images: Sequence[np.ndarray]) -> np.ndarray:
    """The mean strength of each cue over ``images``, in the order of ``NAMES`` (zeros when none)."""
    out = np.zeros(len(NAMES), np.float32)
    for image in images:
        cues = frame_cues(image)
        out += np.array([cues[n] for n in NAMES], np.float32)
    return out / max(1, len(images))


def describe(strengths: np.ndarray, floor: float = 0.15) -> list[tuple[str, float]]:
    """The cues at or above ``floor``, strongest first, as (name, strength)."""
    pairs = [(n, round(float(s), 3)) for n, s in zip(NAMES, strengths, strict=True) if s >= floor]
    return sorted(pairs, key=lambda p: -p[1])
