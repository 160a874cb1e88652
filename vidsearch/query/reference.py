"""Reference clips: "more like this" and "like this, but ...".

A clip inside the library reuses its stored vectors; any other file is decoded and embedded. A
model that reads frames and text together (the multimodal LLM) embeds the reference and the edit in
one input, as composed-retrieval models do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from vidsearch.embed.base import Embedder
from vidsearch.errors import MediaError, UsageError
from vidsearch.query.options import LikeRef
from vidsearch.store import Store
from vidsearch.types import Segment

NEAR_DUPLICATE = 0.97  # cosine above which a moment is a copy of the reference (never a result)
# ...unless the query changes something ("like this but at night"): then what it asks for is often
# the same scene with one thing changed, which a coarse model puts as close as a copy (clips that
# differ only in the sky or the clothes were measured at 0.976-0.992 with the lite model), so only
# the same picture is left out.
SAME_PICTURE = 0.995


def describe_like(like: LikeRef) -> str:
    """The reference clip in words, for ``--explain``."""
    if like.start is None:
        return like.path
    return f"{like.path} from {like.start:.1f} s" + (f" to {like.end:.1f} s" if like.end is not None else "")


def check_like(store: Store, like: LikeRef) -> float:
    """Check a reference clip before any model work: the file exists, is a video (a file outside
    the library is probed, not decoded) and the time is inside it. Returns its duration in seconds.

    Raises UsageError saying what is wrong.
    """
    if not os.path.exists(like.path):
        raise UsageError(f"--like {like.path}: no such file")
    video = store.video_by_path(like.path)
    if video is not None and video.status == "indexed":
        duration = float(video.duration)
    else:
        from vidsearch.media import decode

        try:
            duration = decode.probe(like.path).duration
        except MediaError as exc:
            raise UsageError(f"--like {like.path}: not a usable video ({exc})") from None
    if like.start is not None and like.start >= duration:
        from vidsearch.output.present import format_time

        raise UsageError(f"--like {like.path}@{format_time(like.start)}: past the end of the video "
                         f"({duration:.1f} s long)")
    return duration


def reference_vector(store: Store, embedder: Embedder, like: LikeRef) -> tuple[np.ndarray, set[int]]:
    """The reference clip's vector, and the ids of stored moments that are the reference itself.

    A clip inside the library reuses its stored vectors; any other file is decoded and embedded.
    Raises UsageError when the file is missing, not a video, or the time is past its end.
    """
    check_like(store, like)
    video = store.video_by_path(like.path)
    if video is not None and video.status == "indexed":
        rows = store.moments_of(video.id)
        lo = like.start if like.start is not None else 0.0
        hi = like.end if like.end is not None else (lo + 1e-3 if like.start is not None else float("inf"))
        chosen = [m for m, s, e in rows if s < hi and e > lo] or [rows[0][0]]
        vec = store.vectors(chosen).mean(axis=0)
        return (vec / np.linalg.norm(vec)).astype(np.float32), set(chosen)
    return _embed_file_span(embedder, like), set()


def reference_segment(embedder: Embedder, like: LikeRef) -> Segment:
    """The reference span decoded as the embedder wants its frames. Raises UsageError."""
    from vidsearch.media import decode

    try:
        info = decode.probe(like.path)
    except MediaError as exc:
        raise UsageError(f"--like {like.path}: not a usable video ({exc})") from None
    start = like.start or 0.0
    end = like.end if like.end is not None else (start + 10.0 if like.start is not None else info.duration)
    end = min(end, info.duration)
    n = max(2, embedder.frames_per_moment)
    interval = max(0.1, (end - start) / n)
    frames = decode.frames_in_spans(like.path, [(start, end)], interval, embedder.frame_side, info)[0]
    if not frames:
        raise UsageError(f"--like {like.path}: no frames could be decoded in that span")
    return Segment(start, end, tuple(frames))


def _embed_file_span(embedder: Embedder, like: LikeRef) -> np.ndarray:
    vecs, _ = embedder.embed_moments([reference_segment(embedder, like)])
    return np.asarray(vecs[0], dtype=np.float32)


def compose(
    embedder: Embedder, ref_vec: np.ndarray, like: LikeRef, texts: Sequence[str], text_vecs: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The positive query vectors (and their names) for "like the reference, but <texts>".

    A model that takes frames and text together (the multimodal LLM) gets both in one input, as
    composed-retrieval models do: one vector. Other models keep the reference and each edit clause
    as separate clauses, so their scores are calibrated apart and a hit must match both (soft AND),
    and ``--explain`` shows each part (benchmarks/query_eval.py compares it with mixing the vectors).
    """
    composed = getattr(embedder, "embed_composed", None)
    if composed is not None:
        segment = reference_segment(embedder, like)
        vec = np.asarray(composed([segment], [" and ".join(texts)]), dtype=np.float32).reshape(1, -1)
        return vec, [f"like the reference, {' and '.join(texts)}"]
    return np.vstack([ref_vec[None, :], text_vecs]), ["like the reference", *texts]
