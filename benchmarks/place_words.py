"""Place names in a query, on real-looking footage: what reading them as places adds over reading
them as words for the picture.

    python benchmarks/place_words.py [--devclips DIR] [--model lite] [--keep DIR]

The library: the 42 captioned development clips (``../shared/data/devclips``), copied with their
streams untouched (no re-encoding) and tagged as a phone tags them: 10 clips filmed in Lisbon, 10 in
Porto (QuickTime position, time and camera keys), the other 22 with no position; indexed with the
library API. No picture names a place, so only the files' positions can tell where a clip was
filmed. Each query runs twice in the same process over the same index:

* words     the place name is a word for the picture (the index's positions are hidden from the
            search: what vidsearch did before it kept places)
* places    as ``find`` runs it: "in lisbon" filters, a bare "lisbon" is where some clips were filmed
            (those are searched for the rest of the query, or listed when the name is all it says)

Figures (files ranked by their best hit):

* "lisbon" / "porto" alone: how many of the 10 clips filmed there are in the top 10 (default
  cut-off: what a user sees);
* "lisbon TAGS" (three of the clip's tags) and "CAPTION in lisbon", for each clip filmed in Lisbon
  or Porto with its own city's name: hit@1 and hit@5 of the clip;
* controls: the same queries naming the clip's city for the 22 clips filmed nowhere known (their
  rank must not fall: the whole query still searches every clip), and naming the *other* city for
  clips filmed in Lisbon or Porto (bare: the whole query still finds them; "in ...": filtered out,
  as asked).

Ranking figures use ``--min-match -1`` (the ranking itself, not the cut-off).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEVCLIPS = ROOT.parent / "shared" / "data" / "devclips"
CITIES = {"lisbon": "+38.7223-009.1393+012.000/", "porto": "+41.1496-008.6110+020.000/"}


def tag_copy(src: Path, dest: Path, city: str | None) -> None:
    """Copy ``src`` to ``dest`` stream for stream, with a phone's position, time and camera tags when
    ``city`` is given."""
    import av

    with av.open(str(src)) as inp, av.open(str(dest), "w", options={"movflags": "use_metadata_tags"}) as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        if city is not None:
            out.metadata.update({
                "com.apple.quicktime.location.ISO6709": CITIES[city],
                "com.apple.quicktime.creationdate": "2023-05-06T12:00:00+0100",
                "com.apple.quicktime.make": "Apple",
                "com.apple.quicktime.model": "iPhone 13",
            })  # fmt: skip
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)


@contextmanager
def words_only(library) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The search as it was before vidsearch kept places: no video has a position to go by."""
    facts = library.store.facts
    kept = facts.has_positions
    facts.has_positions = lambda: False
    try:
        yield
    finally:
        facts.has_positions = kept


def ranked_files(library, query: str, min_match: float | None) -> list[str]:  # type: ignore[no-untyped-def]
    hits = library.find(query, limit=50, min_match=min_match).hits
    return list(dict.fromkeys(os.path.basename(h.path) for h in hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devclips", type=Path, default=DEFAULT_DEVCLIPS)
    parser.add_argument("--model", default="lite")
    parser.add_argument("--keep", type=Path, help="build the library and index here and reuse them")
    args = parser.parse_args()

    from vidsearch import Library

    clips = json.loads((args.devclips / "captions.json").read_text())["clips"]
    city_of = {c["file"]: ("lisbon" if i % 4 == 0 else "porto" if i % 4 == 1 else None)
               for i, c in enumerate(clips[:40])}  # fmt: skip
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vidsearch-places-"))
    lib, db = folder / "clips", folder / "index.db"
    fresh = not db.exists()
    if fresh:
        lib.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            tag_copy(args.devclips / clip["file"], lib / clip["file"], city_of.get(clip["file"]))
    try:
        with Library.open(db, create=True, model=args.model) as library:
            if fresh:
                t = time.perf_counter()
                stats = library.index([lib])
                print(f"indexed {stats.indexed} clips in {time.perf_counter() - t:.0f} s")
            summary = library.status().when_where
            assert summary is not None
            print(f"{summary.with_position} of {summary.videos} clips have a position: {summary.places}")
            report(library, clips, city_of)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def report(library, clips: list[dict], city_of: dict[str, str | None]) -> None:  # type: ignore[no-untyped-def,type-arg]
    def both(query: str, min_match: float | None) -> tuple[list[str], list[str]]:
        with words_only(library):
            words = ranked_files(library, query, min_match)
        return words, ranked_files(library, query, min_match)

    print(f"\n{'query':46s} {'words':>12s} {'places':>12s}")
    for city in CITIES:
        there = {f for f, c in city_of.items() if c == city}
        words, places = both(city, None)
        print(f"{city + ' alone: filmed there in top 10':46s} {len(set(words[:10]) & there):9d}/10"
              f" {len(set(places[:10]) & there):9d}/10")  # fmt: skip

    def rows(name: str, cases: list[tuple[str, str]]) -> None:
        ranks: dict[str, list[int]] = {"words": [], "places": []}
        for query, target in cases:
            for kind, files in zip(ranks, both(query, -1.0), strict=True):
                ranks[kind].append(files.index(target) + 1 if target in files else 99)
        cells = []
        for kind in ranks:
            r = ranks[kind]
            cells.append(f"{statistics.mean(x == 1 for x in r):.2f}/{statistics.mean(x <= 5 for x in r):.2f}")
        print(f"{name + f' ({len(cases)})':46s} {cells[0]:>12s} {cells[1]:>12s}")

    print(f"\n{'hit@1/hit@5 of the clip':46s} {'words':>12s} {'places':>12s}")
    tagged = [c for c in clips if city_of.get(c["file"])]
    untagged = [c for c in clips if not city_of.get(c["file"])]
    other = {"lisbon": "porto", "porto": "lisbon"}
    short = lambda c, city: f"{city} {' '.join(c['tags'][:3])}"  # noqa: E731
    lead = lambda c, city: f"{c['caption']} in {city}"  # noqa: E731
    rows("CITY TAGS, filmed in CITY", [(short(c, city_of[c["file"]]), c["file"]) for c in tagged])
    rows("CAPTION in CITY, filmed in CITY", [(lead(c, city_of[c["file"]]), c["file"]) for c in tagged])
    rows("TAGS alone (no place word), filmed anywhere", [(" ".join(c["tags"][:3]), c["file"]) for c in clips])
    rows("lisbon TAGS, filmed nowhere known", [(short(c, "lisbon"), c["file"]) for c in untagged])
    rows("OTHER-CITY TAGS, filmed in CITY", [(short(c, other[city_of[c["file"]]]), c["file"]) for c in tagged])
    rows("CAPTION in OTHER-CITY (filtered out)", [(lead(c, other[city_of[c["file"]]]), c["file"]) for c in tagged])


if __name__ == "__main__":
    main()
