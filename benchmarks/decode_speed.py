"""How fast ``iter_frames`` samples a 720p 60 s h264 video, per sampling strategy.

Encodes the video into a temp dir (a moving square over a gradient, keyframe every 2 s like
typical camera footage), then prints seconds of video decoded per wall-clock second for a full
decode of every frame (the baseline, frames not converted) and for ``iter_frames`` at interval
0.5 s and 5 s with the sequential, seek and keyframes-only strategies (and the one ``auto``
picks), plus each one's speed-up over the baseline.
Run: ``python benchmarks/decode_speed.py [--seconds 60] [--gop 2]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidsearch.media.decode import iter_frames, probe


def encode(path: Path, seconds: float, fps: int = 30, gop_seconds: float = 2.0) -> Path:
    """A 1280x720 h264 clip with motion and grain (so frames are not trivially compressible)."""
    w, h = 1280, 720
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 255 // (w + h))], -1)
    background = background.astype(np.int16)
    rng = np.random.default_rng(0)
    grain = [rng.integers(-3, 4, (h, w, 1), dtype=np.int16) for _ in range(8)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(int(fps * gop_seconds)), "crf": "23"}
        for i in range(int(seconds * fps)):
            # Sensor-like grain makes every frame cost real decoding work, as camera footage does.
            img = np.clip(background + grain[i % len(grain)], 0, 255).astype(np.uint8)
            x = (i * 12) % (w - 160)
            img[280:440, x : x + 160] = (255, 255, 255)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def full_decode(path: Path) -> float:
    """Wall seconds to decode every frame (threaded, no RGB conversion): the baseline."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def timed(path: Path, interval: float, strategy: str, info) -> tuple[float, int]:
    start = time.perf_counter()
    n = sum(1 for _ in iter_frames(path, interval, 224, info, strategy=strategy))
    return time.perf_counter() - start, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--gop", type=float, default=2.0, help="keyframe interval in seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = encode(Path(tmp) / "bench.mp4", args.seconds, gop_seconds=args.gop)
        info = probe(path)
        print(f"video: {info.width}x{info.height} {info.fps:.0f} fps {info.duration:.1f} s, "
              f"keyframe every {args.gop:g} s", file=sys.stderr)
        base = min(full_decode(path) for _ in range(2))
        print(f"{'case':<28}{'wall s':>8}{'frames':>8}{'video s/s':>11}{'vs full':>9}")
        print(f"{'full decode, every frame':<28}{base:8.2f}{'-':>8}{info.duration / base:11.1f}{1.0:9.2f}")
        for interval in (0.5, 5.0):
            for strategy in ("sequential", "seek", "keyframes", "auto"):
                wall, n = min(timed(path, interval, strategy, info) for _ in range(2))
                label = f"interval {interval:g} s, {strategy}"
                print(f"{label:<28}{wall:8.2f}{n:8d}{info.duration / wall:11.1f}{base / wall:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
