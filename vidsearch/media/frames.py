"""Which frames of a video to look at."""

from __future__ import annotations


def sample_interval(duration: float) -> float:
    """Seconds between sampled frames of a video ``duration`` seconds long: dense enough to see cuts,
    sparser for very long files (indexing reads every frame at this interval)."""
    if duration > 3600:
        return 2.0
    if duration > 1200:
        return 1.0
    return 0.5
