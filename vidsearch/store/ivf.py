"""A compact nearest-neighbour index kept beside the SQLite file, always rebuildable from it.

Why: sqlite-vec's exact scan reads every float vector (about 1 s per query at a million moments) and
its binary-code KNN was measured slower than a numpy float scan. This index is an inverted file
(IVF) of int8 codes in plain numpy, so it needs no extra package:

* k-means centroids split the library into ``nlist`` lists; the codes are stored list by list, so a
  query reads only the ``nprobe`` lists nearest to it (a few percent of the library);
* each vector is stored twice, coarsely: as int8 with its own scale (384 bytes + 4 for a 384-d
  model, a quarter of the float32 vector), and as the signs of its residual (the vector minus its
  list's centroid: one bit a dimension, 48 bytes) with the residual's length. A query first
  estimates every candidate row's cosine as (query . centroid) + |residual| cos(angle), the angle
  between query and residual read from the Hamming distance of their sign bits (XOR and popcount
  over 64-bit words: a fraction of the cost of an int8 product); it scores the best estimates with
  the int8 codes and returns the best of those, which ``Store.nearest`` re-ranks by exact cosine on
  the float vectors read from SQLite;
* a video filter (``--in``) picks rows through a per-video row table stored in the file: a filter
  that keeps few moments scores exactly those rows, a larger one masks the rows of the probed lists
  (probing more lists, so the answer still holds ``count`` moments);
* a spread of exact float vectors over the library is kept too: a search calibrates its scores on
  them without reading a thousand vectors from SQLite (``Store.library_sample``).

The SQLite file stays the source of truth. Every insert or delete of a moment appends to the
``vector_log`` table (triggers, see the store's migrations); its sequence number is the change
counter. The index file records the counter it was built at; newer log entries are applied as a
small delta file (new codes + deleted ids) and a full rebuild happens when the delta grows large,
when the file is missing, corrupt, or was built for another model.

File layout (``<index>.vidx`` and ``<index>.vidx-delta``): a magic line, an 8-byte header length, the
header's CRC-32, a JSON header naming each array's offset, dtype and shape, then the arrays (64-byte
aligned), read with ``np.memmap`` so a cold process touches only the lists it probes. Files are
written to a temporary name and renamed, so a crash never leaves a torn file. The header names the
format; a file of another format (an older vidsearch's) is rebuilt, never read.

Nothing in the file is trusted unchecked. The header carries a CRC-32 of each small array (centroids,
offsets, the calibration sample, the per-video table) and of each list's rows (codes, scales, sign
bits, lengths, ids): the small arrays are checked when the file is opened, a list the first time a
search reads it (so a cold search still reads only the lists it probes), the delta file whole.
A mismatch raises ``SearchIndexDamaged``, and the store rebuilds the file from the database.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.errors import SearchIndexDamaged

# 2: residual sign bits and lengths, per-video rows, calibration sample; 3: checksums
FORMAT = "vidsearch-ivf-int8-3"
_MAGIC = b"VIDSEARCH-ANN\n"
KMEANS_ITERATIONS = 8
TRAIN_PER_LIST = 48  # training sample: this many vectors per list (faiss suggests 39..256)
DELTA_MAX_FRACTION = 0.1  # a delta above this share of the library triggers a full rebuild
SCAN_FRACTION = 0.04  # target share of the library a query reads (sets nprobe)...
# ...but never fewer lists than this: whether a neighbour sits in a list not probed depends on how
# many lists are probed more than on their share (benchmarks/search.py, 100k moments: recall@10
# 0.950 with 13 lists, 0.968 with 32; the sign-bit pass keeps extra lists cheap).
MIN_PROBE = 32
# Rows kept after the sign-bit pass for int8 scoring: this many times the count asked for, at least
# SHORTLIST_MIN (benchmarks/search.py, recall@10 keeping 1200 rows: 0.945 at 30k moments, 0.970 at
# 100k; keeping 2000 costs about a millisecond more at a million).
SHORTLIST_FACTOR = 8
SHORTLIST_MIN = 2000
# ...and at least this many when a filter chose the rows: they come from many more lists, where the
# estimate ranks less well (benchmarks/search.py, --in 10 %, recall@10 keeping 2000 / 3000 / 4000 /
# 5000 rows: 0.947 / 0.968 / 0.980 / 0.990 at 300k moments, 0.980 / 0.986 / 0.990 / 0.993 at a
# million; keeping a fifth of the rows read instead, 8000 at a million, took 1.3x as long for 0.997).
FILTER_SHORTLIST_MIN = 4000
# A search reading at most this many rows scores every one in int8: the sign-bit pass saves little
# there and costs recall (30k moments, 32 of 173 lists, about 9500 rows: recall@10 0.927 scoring all,
# 0.902 with the pass).
SCORE_ALL_ROWS = 12000
SAMPLE_SIZE = 1000  # exact vectors kept for calibrating scores
_CHUNK = 65536  # rows per step when building (bounds the temporary memory)


def nlist_for(n: int) -> int:
    """How many lists for ``n`` vectors: about sqrt(n) (1000 at a million), at least 1."""
    return max(1, min(n, int(np.sqrt(n))))


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float vectors -> (int8 codes, float32 per-vector scale) with ``codes * scale ~ vectors``."""
    vectors = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8)
    return codes, scale


def sign_bits(vectors: np.ndarray) -> np.ndarray:
    """Rows -> their signs (bit set where positive) packed into 64-bit words ((n, ceil(dim / 64)) uint64)."""
    vectors = np.asarray(vectors, np.float32)
    n, dim = vectors.shape
    out = np.zeros((n, -(-dim // 64) * 8), np.uint8)
    out[:, : -(-dim // 8)] = np.packbits(vectors > 0, axis=1)
    return out.view(np.uint64)


def residuals(vectors: np.ndarray, centroids: np.ndarray, lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sign bits, float32 lengths) of each row minus the centroid of its list (``lists[i]``)."""
    n = len(vectors)
    bits = np.zeros((n, -(-vectors.shape[1] // 64)), np.uint64)
    lengths = np.zeros(n, np.float32)
    for lo in range(0, n, _CHUNK):  # in steps: the float residuals of a million rows would be 1.5 GB
        r = np.asarray(vectors[lo : lo + _CHUNK], np.float32) - centroids[lists[lo : lo + _CHUNK]]
        bits[lo : lo + _CHUNK] = sign_bits(r)
        lengths[lo : lo + _CHUNK] = np.linalg.norm(r, axis=1)
    return bits, lengths


def _hamming(bits: np.ndarray, query_bits: np.ndarray) -> np.ndarray:
    """Hamming distance of each row of packed ``bits`` to ``query_bits``.

    One 64-bit word column at a time: numpy's row-wise broadcast over a handful of words, and its
    sum along such a short axis, run per-row loops measured 2-5x slower.
    """
    distance = np.bitwise_count(bits[:, 0] ^ query_bits[0]).astype(np.uint16)
    for word in range(1, bits.shape[1]):
        distance += np.bitwise_count(bits[:, word] ^ query_bits[word])
    return distance


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d integer array.

    np.unique would do, but its first call imports numpy.ma, a cost in the tens of milliseconds
    that a process answering one query pays in full.
    """
    ordered = np.sort(np.asarray(values).ravel())
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _rows_of(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    # np.take copies whole rows; fancy indexing ``array[rows]`` was measured 4-7x slower here
    return np.take(array, rows, axis=0)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The integers of every half-open range [starts[i], ends[i]), concatenated in order."""
    lengths = np.asarray(ends, np.int64) - np.asarray(starts, np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    # each output position = its range's start + its place inside the range
    first = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, np.int64) - first, lengths) + np.arange(total)


def kmeans(sample: np.ndarray, nlist: int, iterations: int = KMEANS_ITERATIONS, seed: int = 0) -> np.ndarray:
    """Spherical k-means (cosine) over unit vectors; returns (nlist, dim) unit centroids."""
    rng = np.random.default_rng(seed)
    centroids = sample[rng.choice(len(sample), size=nlist, replace=False)].copy()
    for _ in range(iterations):
        assign = _assign(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        counts = np.bincount(assign, minlength=nlist)
        empty = counts == 0
        if empty.any():  # re-seed empty lists with random points so every list is used
            sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return centroids


def _assign(vectors: np.ndarray, centroids: np.ndarray, batch: int = 65536) -> np.ndarray:
    out = np.empty(len(vectors), np.int32)
    for lo in range(0, len(vectors), batch):
        out[lo : lo + batch] = np.argmax(vectors[lo : lo + batch] @ centroids.T, axis=1)
    return out


# ---- the file format ---------------------------------------------------------------------------------
def _write(path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write header + arrays to ``path`` atomically (temp file in the same folder, then rename)."""
    layout: dict[str, list[Any]] = {}
    offset = 0
    for name, arr in arrays.items():
        layout[name] = [offset, arr.dtype.str, list(arr.shape)]
        offset += -(-arr.nbytes // 64) * 64
    head = dict(header, arrays=layout)
    blob = json.dumps(head).encode()
    start = _data_start(len(blob))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + struct.pack("<QI", len(blob), zlib.crc32(blob)) + blob)
            f.write(b"\0" * (start - f.tell()))
            for name, arr in arrays.items():
                f.seek(start + int(layout[name][0]))
                f.write(np.ascontiguousarray(arr).tobytes())
            f.truncate(start + offset)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with _suppress_os():
            os.unlink(tmp)
        raise


class _suppress_os:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)


def _data_start(header_bytes: int) -> int:
    return -(-(len(_MAGIC) + 12 + header_bytes) // 64) * 64


def _crc(*arrays: np.ndarray) -> int:
    """CRC-32 over the bytes of ``arrays`` in turn (contiguous views are read in place)."""
    value = 0
    for arr in arrays:
        value = zlib.crc32(np.ascontiguousarray(arr).data, value)
    return value


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`_write`; arrays are read-only memory maps.

    Raises ValueError when the file is torn or not one of ours.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(len(_MAGIC))
        if magic != _MAGIC:
            raise ValueError("not a vidsearch index file")
        fixed = f.read(12)
        if len(fixed) != 12:
            raise ValueError("header torn")
        length, crc = struct.unpack("<QI", fixed)
        if length > 1 << 24:
            raise ValueError("header too large")
        blob = f.read(length)
        if zlib.crc32(blob) != crc:
            raise SearchIndexDamaged("the index file's header does not match its checksum")
        header = json.loads(blob)
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), dict):
        raise ValueError("not a vidsearch index header")
    start = _data_start(length)
    arrays: dict[str, np.ndarray] = {}
    for name, (offset, dtype, shape) in header.pop("arrays").items():
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * np.dtype(dtype).itemsize
        if offset < 0 or start + offset + nbytes > size:
            raise ValueError(f"array {name} runs past the end of the file")
        if count == 0:
            arrays[name] = np.zeros(shape, dtype)
        else:
            arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=start + offset, shape=tuple(shape))
    return header, arrays


# ---- the index ---------------------------------------------------------------------------------------
@dataclass
class AnnStats:
    """What ``vidsearch status`` shows about the index beside the database."""

    kind: str
    moments: int
    lists: int
    probe: int
    file_bytes: int
    built_seq: int
    delta: int
    build_seconds: float


class IvfIndex:
    """An IVF index over (moment id, video id, vector) rows, int8 codes and sign bits list by list.

    Build with :meth:`build`, open a saved one with :meth:`load`.
    """

    def __init__(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.header = header
        self.centroids = arrays["centroids"]
        self.offsets = np.asarray(arrays["offsets"])  # list i is rows offsets[i]:offsets[i+1]
        self.codes = arrays["codes"]
        self.scales = arrays["scales"]
        self.bits = arrays["bits"]  # signs of each row's residual (row - its list's centroid)
        self.norms = arrays["norms"]  # and the residual's length
        self.ids = arrays["ids"]
        self.video_ids = arrays["video_ids"]
        # rows of each video: video_rows[video_starts[i]:video_starts[i + 1]] hold video_keys[i]
        self.video_keys = np.asarray(arrays["video_keys"])
        self.video_starts = np.asarray(arrays["video_starts"])
        self.video_rows = arrays["video_rows"]
        self.sample = arrays["sample"]
        self.list_sums = np.asarray(arrays["list_sums"])  # CRC-32 of each list's rows
        self.seq = int(header["seq"])
        # the delta: codes added since the build, ids deleted since (applied by ``apply_delta``)
        self.tail_codes = np.zeros((0, self.dim), np.int8)
        self.tail_scales = np.zeros(0, np.float32)
        self.tail_bits = np.zeros((0, self.bits.shape[1]), np.uint64)
        self.tail_norms = np.zeros(0, np.float32)
        self.tail_lists = np.zeros(0, np.int64)
        self.tail_ids = np.zeros(0, np.int64)
        self.tail_vids = np.zeros(0, np.int64)
        self.dead: np.ndarray = np.zeros(0, np.int64)  # sorted moment ids no longer present
        self.dead_rows: np.ndarray = np.zeros(0, np.int64)  # where they are in the main part
        self._alive: np.ndarray | None = None  # main rows still present (built on first use)
        self._row_lists: np.ndarray | None = None  # the list of each main row (built on first use)
        self.delta_seq = self.seq
        # lists whose rows were checked against their checksums (each list once, when first read)
        self._checked = np.zeros(len(self.centroids), bool)
        self._video_rows_checked = False

    @property
    def dim(self) -> int:
        return int(self.codes.shape[1])

    @property
    def model_id(self) -> str:
        return str(self.header.get("model_id", ""))

    def __len__(self) -> int:
        return int(len(self.ids) + len(self.tail_ids) - len(self.dead))

    @property
    def nprobe(self) -> int:
        nlist = len(self.centroids)
        return max(1, min(nlist, max(MIN_PROBE, int(np.ceil(nlist * SCAN_FRACTION)))))

    # -- building ----------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        video_ids: np.ndarray,
        vectors: np.ndarray,
        *,
        seq: int,
        model_id: str,
        centroids: np.ndarray | None = None,
    ) -> IvfIndex:
        """Cluster, quantize and lay out ``vectors`` (unit rows) list by list.

        ``centroids`` from an earlier build are reused when given (a re-layout after many changes
        need not re-train). ``seq`` is the change counter the rows reflect.
        """
        started = time.perf_counter()
        n, dim = vectors.shape
        rng = np.random.default_rng(0)
        nlist = nlist_for(n)
        take = min(n, nlist * TRAIN_PER_LIST)
        sample = vectors[np.sort(rng.choice(n, size=take, replace=False))] if take < n else vectors
        sample = np.asarray(sample, np.float32)
        if centroids is None or centroids.shape[1] != dim or not len(centroids):
            centroids = kmeans(sample, nlist) if n else np.zeros((0, dim), np.float32)
        centroids = np.asarray(centroids, np.float32)
        assign = _assign(vectors, centroids) if n else np.zeros(0, np.int32)
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=len(centroids))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        laid = vectors[order]
        codes, scales = quantize(laid)
        bits, norms = residuals(laid, centroids, assign[order])
        vids = np.asarray(video_ids, np.int64)[order]
        by_video = np.argsort(vids, kind="stable")
        keys, starts = np.unique(vids[by_video], return_index=True)
        ids = np.asarray(ids, np.int64)
        spread = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_SIZE)).round().astype(np.int64))
        by_id = np.argsort(ids, kind="stable")  # the spread is over moment ids, as the store's own is
        header: dict[str, Any] = {
            "format": FORMAT,
            "model_id": model_id,
            "seq": int(seq),
            "build_seconds": round(time.perf_counter() - started, 3),
            "built_at": time.time(),
        }
        arrays: dict[str, np.ndarray] = {
            "centroids": np.asarray(centroids, np.float32),
            "offsets": offsets,
            "codes": codes,
            "scales": scales,
            "bits": bits,
            "norms": norms,
            "ids": ids[order],
            "video_ids": vids,
            "video_keys": keys.astype(np.int64),
            "video_starts": np.append(starts, n).astype(np.int64),
            "video_rows": by_video.astype(np.int64),
            "sample": np.asarray(vectors[by_id[spread]], np.float32) if n else np.zeros((0, dim), np.float32),
        }
        cls.seal(header, arrays)
        header["build_seconds"] = round(time.perf_counter() - started, 3)
        index = cls(header, arrays)
        index._checked[:] = True  # built here from the database: right by construction
        index._video_rows_checked = True
        return index

    _ARRAYS = ("centroids", "offsets", "codes", "scales", "bits", "norms", "ids", "video_ids", "video_keys",
               "video_starts", "video_rows", "sample", "list_sums")
    # checked whole when the file is opened (the per-video rows on the first filtered search)
    _SMALL = ("centroids", "offsets", "video_keys", "video_starts", "video_rows", "sample", "list_sums")
    _ROWS = ("codes", "scales", "bits", "norms", "ids", "video_ids")  # checked list by list

    @classmethod
    def seal(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Set the checksums of a file's arrays: one per list's rows (``list_sums``), one per small
        table (in the header)."""
        offsets = arrays["offsets"]
        arrays["list_sums"] = np.asarray(
            [_crc(*cls._list_rows(arrays, lo, hi)) for lo, hi in zip(offsets[:-1], offsets[1:], strict=True)],
            np.uint32,
        )
        header["checksums"] = {name: _crc(arrays[name]) for name in cls._SMALL}

    @staticmethod
    def _list_rows(arrays: Any, lo: int, hi: int) -> list[np.ndarray]:
        get = arrays.__getitem__ if isinstance(arrays, dict) else lambda name: getattr(arrays, name)
        return [get(name)[int(lo) : int(hi)] for name in IvfIndex._ROWS]

    def save(self, path: Path) -> None:
        """Write the main file (and drop any delta file, which it supersedes)."""
        _write(path, self.header, {name: np.asarray(getattr(self, name)) for name in self._ARRAYS})
        with _suppress_os():
            os.unlink(delta_path(path))

    @classmethod
    def load(cls, path: Path) -> IvfIndex:
        """Open the main file and its delta file when present. Raises ValueError/OSError when unusable."""
        header, arrays = _read(path)
        if header.get("format") != FORMAT:
            raise ValueError(f"unknown index format {header.get('format')!r}")
        if not set(cls._ARRAYS) <= set(arrays):
            raise ValueError("index file misses arrays")
        index = cls(header, arrays)
        n = len(index.ids)
        if (
            len(index.offsets) != len(index.centroids) + 1
            or int(index.offsets[-1]) != n
            or len(index.codes) != n
            or len(index.scales) != n
            or len(index.bits) != n
            or index.bits.shape[1] != -(-index.dim // 64)
            or len(index.norms) != n
            or len(index.video_ids) != n
            or len(index.video_rows) != n
            or len(index.video_starts) != len(index.video_keys) + 1
            or (n and int(index.video_starts[-1]) != n)
            or index.sample.shape[1:] != (index.dim,)
            or len(index.list_sums) != len(index.centroids)
        ):
            raise ValueError("index file arrays disagree in length")
        sums = header.get("checksums")
        if not isinstance(sums, dict) or set(sums) != set(cls._SMALL):
            raise ValueError("index file without checksums")
        for name in cls._SMALL:
            if name != "video_rows" and _crc(arrays[name]) != sums[name]:
                raise SearchIndexDamaged(f"the index file's {name} do not match their checksum")
        dpath = delta_path(path)
        if dpath.exists():
            try:
                dh, da = _read(dpath)
                if (
                    dh.get("format") == FORMAT
                    and dh.get("base_seq") == index.seq
                    and dh.get("checksum") == _crc(*(da[name] for name in _DELTA_ARRAYS))
                    and da["tail_codes"].shape[1:] == (index.dim,)
                    and da["tail_bits"].shape[1:] == index.bits.shape[1:]
                    and len(da["dead"]) == len(da["dead_rows"])
                ):
                    index._set_delta(
                        int(dh["seq"]),
                        np.asarray(da["tail_codes"]),
                        np.asarray(da["tail_scales"]),
                        np.asarray(da["tail_bits"]),
                        np.asarray(da["tail_norms"]),
                        np.asarray(da["tail_lists"]),
                        np.asarray(da["tail_ids"]),
                        np.asarray(da["tail_vids"]),
                        np.asarray(da["dead"]),
                        np.asarray(da["dead_rows"]),
                    )
            except (OSError, ValueError, KeyError):
                pass  # a stale or torn delta is recomputed from the log
        return index

    def _set_delta(
        self,
        seq: int,
        codes: np.ndarray,
        scales: np.ndarray,
        bits: np.ndarray,
        norms: np.ndarray,
        lists: np.ndarray,
        ids: np.ndarray,
        vids: np.ndarray,
        dead: np.ndarray,
        dead_rows: np.ndarray,
    ) -> None:
        self.tail_codes, self.tail_scales, self.tail_bits = codes, scales, bits
        self.tail_norms, self.tail_lists = norms, lists
        self.tail_ids, self.tail_vids = ids, vids
        self.dead, self.dead_rows = dead.astype(np.int64), dead_rows.astype(np.int64)
        self._alive = None
        self.delta_seq = seq

    def apply_delta(
        self,
        seq: int,
        added: Sequence[int],
        removed: Iterable[int],
        fetch: Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """Bring the index to change counter ``seq``: ``added`` moment ids now exist, ``removed`` do not.

        ``fetch(ids)`` returns (video ids, vectors) of added moments. A moment deleted and re-added
        (SQLite may reuse an id) counts as removed from the main part and present in the tail.
        """
        removed_set = set(int(i) for i in removed) | set(int(i) for i in added)
        keep_tail = ~np.isin(self.tail_ids, np.fromiter(removed_set, np.int64, len(removed_set)))
        codes, scales, bits = self.tail_codes[keep_tail], self.tail_scales[keep_tail], self.tail_bits[keep_tail]
        norms, lists = self.tail_norms[keep_tail], self.tail_lists[keep_tail]
        ids, vids = self.tail_ids[keep_tail], self.tail_vids[keep_tail]
        if added:
            new_vids, vectors = fetch(added)
            present = np.asarray([int(i) for i in added], np.int64)[: len(new_vids)]
            new_codes, new_scales = quantize(vectors)
            centroids = np.asarray(self.centroids, np.float32)
            new_lists = _assign(np.asarray(vectors, np.float32), centroids).astype(np.int64)
            new_bits, new_norms = residuals(vectors, centroids, new_lists)
            codes = np.concatenate([codes, new_codes])
            scales = np.concatenate([scales, new_scales])
            bits = np.concatenate([bits, new_bits])
            norms = np.concatenate([norms, new_norms])
            lists = np.concatenate([lists, new_lists])
            ids = np.concatenate([ids, present])
            vids = np.concatenate([vids, np.asarray(new_vids, np.int64)])
        gone = np.union1d(self.dead, np.fromiter(removed_set, np.int64, len(removed_set)))
        dead_rows = np.flatnonzero(np.isin(self.ids, gone))
        self._set_delta(seq, codes, scales, bits, norms, lists, ids, vids, np.asarray(self.ids[dead_rows]), dead_rows)

    def save_delta(self, path: Path) -> None:
        arrays = {name: np.asarray(getattr(self, name)) for name in _DELTA_ARRAYS}
        header = {"format": FORMAT, "base_seq": self.seq, "seq": self.delta_seq, "checksum": _crc(*arrays.values())}
        _write(delta_path(path), header, arrays)

    # -- checking ----------------------------------------------------------------------------------
    def check_lists(self, lists: np.ndarray) -> None:
        """Check the rows of ``lists`` (list numbers) against their checksums, each list once per
        loaded index; raises SearchIndexDamaged at the first that does not match."""
        lists = np.asarray(lists, np.int64)
        todo = lists[~self._checked[lists]]
        for i in _distinct(todo):
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            if _crc(*self._list_rows(self, lo, hi)) != int(self.list_sums[i]):
                raise SearchIndexDamaged(f"list {i} of the index file does not match its checksum")
            self._checked[i] = True

    def check_video_rows(self) -> None:
        """Check the per-video row table (read by filtered searches) against its checksum, once."""
        if self._video_rows_checked:
            return
        if _crc(self.video_rows) != self.header["checksums"]["video_rows"]:
            raise SearchIndexDamaged("the index file's video_rows do not match their checksum")
        self._video_rows_checked = True

    def check_all(self) -> None:
        """Check every list and table of the file (``vidsearch status --check``)."""
        self.check_video_rows()
        self.check_lists(np.arange(len(self.centroids)))

    @property
    def delta_size(self) -> int:
        return int(len(self.tail_ids) + len(self.dead))

    # -- searching ---------------------------------------------------------------------------------
    def search(
        self, query: np.ndarray, count: int, video_ids: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` moment ids with the highest approximate cosine, best first, and those scores.

        With ``video_ids`` only their moments are considered, inside the scan (so the answer holds
        ``count`` moments whenever that many match).
        """
        q = np.asarray(query, np.float32)
        if count <= 0 or not len(self.centroids):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        closeness = np.asarray(self.centroids) @ q  # query . centroid, for every list
        q_bits = sign_bits(q[None, :])[0]
        keep = max(SHORTLIST_MIN, SHORTLIST_FACTOR * count)
        wanted = _distinct(np.asarray(list(video_ids), np.int64)) if video_ids is not None else None
        found = []
        rows, lists, filtered = self._main_rows(closeness, wanted)
        if len(rows):
            part = (self.codes, self.scales, self.bits, self.norms, self.ids)
            found.append(self._score(part, rows, lists, closeness, q, q_bits, keep, filtered))
        if len(self.tail_ids):  # the delta is small: every row of it is a candidate
            rows = np.arange(len(self.tail_ids))
            if wanted is not None:
                rows = rows[np.isin(self.tail_vids, wanted)]
            if len(rows):
                part = (self.tail_codes, self.tail_scales, self.tail_bits, self.tail_norms, self.tail_ids)
                found.append(self._score(part, rows, self.tail_lists[rows], closeness, q, q_bits, keep, True))
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        ids = np.concatenate([f[0] for f in found])
        scores = np.concatenate([f[1] for f in found])
        top = np.argpartition(-scores, count - 1)[:count] if len(scores) > count else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return ids[top], scores[top]

    def _main_rows(self, closeness: np.ndarray, wanted: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, bool]:
        """Rows of the main part worth scoring, the list of each, and whether a filter chose them.

        Without a filter: every row of the ``nprobe`` lists nearest the query. With one: every row of
        the filter when it keeps few moments, else its rows inside the nearest lists, probing as many
        more lists as the filter is narrower (so about as many rows are read as without one).
        """
        n_main = len(self.ids)
        empty = np.zeros(0, np.int64)
        if not n_main:
            return empty, empty, False
        if wanted is None:
            probe = min(len(self.centroids), self.nprobe)
            lists = np.argpartition(-closeness, probe - 1)[:probe] if probe < len(closeness) else np.arange(probe)
            lists.sort()  # read the file front to back
            starts, ends = self.offsets[lists], self.offsets[lists + 1]
            rows, row_lists = _ranges(starts, ends), np.repeat(lists, ends - starts)
            self.check_lists(lists)
        else:
            self.check_video_rows()
            # the filter's rows, by the per-video table: work in proportion to the filter, not the library
            keys = self.video_keys
            at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
            at = at[keys[at] == wanted] if len(keys) else at[:0]
            rows = np.asarray(self.video_rows)[_ranges(self.video_starts[at], self.video_starts[at + 1])]
            row_lists = self._lists_of_rows()[rows]
            probe = min(len(self.centroids), int(np.ceil(self.nprobe * n_main / max(len(rows), 1))))
            if len(rows) > SCORE_ALL_ROWS and probe < len(self.centroids):
                chosen = np.zeros(len(self.centroids), bool)
                chosen[np.argpartition(-closeness, probe - 1)[:probe]] = True
                inside = chosen[row_lists]
                rows, row_lists = rows[inside], row_lists[inside]
            self.check_lists(row_lists)
        if len(self.dead_rows):
            alive = self._alive_rows()[rows]
            rows, row_lists = rows[alive], row_lists[alive]
        return rows, row_lists, wanted is not None

    def _lists_of_rows(self) -> np.ndarray:
        # a table costs a fraction of a millisecond at a million rows; searching the offsets for each
        # row of a wide filter cost a millisecond or more every time
        if self._row_lists is None:
            self._row_lists = np.repeat(np.arange(len(self.centroids), dtype=np.int32), np.diff(self.offsets))
        return self._row_lists

    def _alive_rows(self) -> np.ndarray:
        if self._alive is None:
            self._alive = np.ones(len(self.ids), bool)
            self._alive[self.dead_rows] = False
        return self._alive

    @staticmethod
    def _score(
        part: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        rows: np.ndarray,
        lists: np.ndarray,
        closeness: np.ndarray,
        q: np.ndarray,
        q_bits: np.ndarray,
        keep: int,
        filtered: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(moment ids, int8 scores) of the rows among ``rows`` whose estimated cosine is best.

        ``part`` is (codes, scales, sign bits, residual lengths, moment ids) of the main part or the
        delta; ``lists[i]`` is the list of ``rows[i]``.
        """
        codes, scales, bits, norms, ids = part
        if filtered:
            keep = max(keep, FILTER_SHORTLIST_MIN)
        if len(rows) > max(keep, SCORE_ALL_ROWS):
            angle_cos = np.cos(np.pi * np.arange(codes.shape[1] + 1, dtype=np.float32) / codes.shape[1])
            estimate = closeness[lists] + _rows_of(norms, rows) * angle_cos[_hamming(_rows_of(bits, rows), q_bits)]
            rows = np.sort(rows[np.argpartition(-estimate, keep - 1)[:keep]])
        return _rows_of(ids, rows), _dot(_rows_of(codes, rows), q) * _rows_of(scales, rows)

    def library_sample(self, n: int) -> np.ndarray:
        """Up to ``n`` exact vectors spread over the library as it was built (for calibrating scores)."""
        total = len(self.sample)
        if n >= total:
            return np.asarray(self.sample)
        return np.asarray(self.sample[_distinct(np.linspace(0, total - 1, n).round().astype(np.int64))])

    def stats(self, path: Path | None = None) -> AnnStats:
        size = 0
        if path is not None:
            for p in (path, delta_path(path)):
                with _suppress_os():
                    size += p.stat().st_size
        return AnnStats(
            kind=f"IVF int8, {len(self.centroids)} lists, {self.nprobe} probed, exact re-rank",
            moments=len(self),
            lists=len(self.centroids),
            probe=self.nprobe,
            file_bytes=size,
            built_seq=self.seq,
            delta=self.delta_size,
            build_seconds=float(self.header.get("build_seconds", 0.0)),
        )


_DELTA_ARRAYS = ("tail_codes", "tail_scales", "tail_bits", "tail_norms", "tail_lists", "tail_ids", "tail_vids",
                 "dead", "dead_rows")


def _dot(codes: np.ndarray, q: np.ndarray) -> np.ndarray:
    # einsum casts int8 -> float32 in cache-sized chunks and runs on one core: measured 3-8x faster
    # than a cast followed by a BLAS product on the shared 2-core machine, and immune to BLAS threads
    # fighting for busy cores
    return np.einsum("ij,j->i", codes, q)


def delta_path(path: Path) -> Path:
    return path.with_name(path.name + "-delta")


def index_path(db_path: Path) -> Path:
    """Where the index file of the database ``db_path`` lives: beside it, ``<name>.vidx``."""
    return db_path.with_name(db_path.name + ".vidx")
