"""How much query understanding adds: negation, order in time, "like this but ...".

Builds a generated library of title-card clips with known content (subject x condition, e.g.
"DOG IN THE RAIN"), indexes it with the lite model, and reports, plain single-vector search
(baseline, the same run) against vidsearch:
- negated queries ("a dog, not in the rain"): share of top-5 hits that show the excluded content;
- composed queries (--like DOG-ON-THE-BEACH "but in the snow"): recall@1 and @5 of the edited
  variant, also against mixing the reference and edit vectors (what a model without composed
  input would do naively);
- order ("A, then B"): recall@1 of the A-then-B clip when a B-then-A clip exists too;
- several positive clauses ("a dog, in the snow"): recall@1 and mean reciprocal rank when the
  whole-sentence score is blended into the clause scores with each weight in WHOLE_WEIGHTS (0: the
  clauses alone; 1: the sentence alone; vidsearch.query.search.SearchOptions.whole_weight).

usage: python benchmarks/query_eval.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402
from videogen import Scene, title_card, write_video  # noqa: E402

from vidsearch.embed import lite  # noqa: E402
from vidsearch.index.indexer import update_index  # noqa: E402
from vidsearch.query import compose  # noqa: E402
from vidsearch.query.hits import merge_adjacent  # noqa: E402
from vidsearch.query.options import LikeRef, SearchOptions  # noqa: E402
from vidsearch.query.search import find, plain_find  # noqa: E402
from vidsearch.store import Store  # noqa: E402

SUBJECTS = ["DOG", "CAT", "HORSE", "BOAT", "CAR", "CHILD"]
CONDITIONS = ["IN THE SNOW", "ON THE BEACH", "IN THE RAIN", "AT NIGHT"]
WHOLE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
CONJUNCTIONS = ("a {s}, {p}, {t}", "{t}, {p}, with a {s}", "{p}; a {s}; {t}")
# the same queries in other words than the cards use, which is how people search
# three attributes per clip for the several-clause queries: many clips share two of the three
PLACES = {"ON THE BEACH": "by the seashore", "IN A FOREST": "among the trees", "IN THE CITY": "downtown"}
TIMES = {"AT NIGHT": "after dark", "AT NOON": "in the middle of the day"}
SYNONYMS = {"DOG": "puppy", "CAT": "kitten", "HORSE": "pony", "BOAT": "sailing ship", "CAR": "automobile",
            "CHILD": "little kid", "IN THE SNOW": "on a snowy winter day", "ON THE BEACH": "by the seashore",
            "IN THE RAIN": "in wet weather", "AT NIGHT": "after dark"}
PAIRS = [("BIRTHDAY CAKE", "FIREWORKS"), ("WEDDING DANCE", "SPEECHES"), ("SUNRISE", "BREAKFAST"),
         ("GOAL", "CELEBRATION")]


def name(subject: str, condition: str) -> str:
    return f"{subject}_{condition}".replace(" ", "_").lower() + ".mp4"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        lib.mkdir()
        t = time.perf_counter()
        for s in SUBJECTS:
            for c in CONDITIONS:
                write_video(lib / name(s, c), [Scene(title_card(f"{s} {c}"), 4)], fps=5, size=(480, 270))
        for a, b in PAIRS:
            write_video(lib / f"{a}_then_{b}.mp4".replace(" ", "_").lower(),
                        [Scene(title_card(a), 4), Scene(title_card(b), 4)], fps=5, size=(480, 270))
            write_video(lib / f"{b}_then_{a}.mp4".replace(" ", "_").lower(),
                        [Scene(title_card(b), 4), Scene(title_card(a), 4)], fps=5, size=(480, 270))
        embedder = lite.load("cpu", cache_dir=Path(tmp) / "cache")
        store = Store.open(Path(tmp) / "index.db")
        stats = update_index(store, [str(lib)], lambda: embedder, model_name="lite")
        print(f"library: {stats.indexed} clips, {stats.moments} moments (built in {time.perf_counter() - t:.1f} s)")

        def files(hits) -> list[str]:  # type: ignore[no-untyped-def]
            return [Path(h.path).name for h in hits]

        # negation
        plain_bad = ours_bad = total = 0
        for s in SUBJECTS:
            for c in CONDITIONS:
                query = f"a {s.lower()}, not {c.lower()}"
                bad = c.replace(" ", "_").lower()
                plain_bad += sum(bad in f for f in files(plain_find(store, embedder, query, 5)))
                ours_bad += sum(bad in f for f in files(find(store, embedder, query, SearchOptions(limit=5))))
                total += 5
        print(f"negated queries ({len(SUBJECTS) * len(CONDITIONS)}): share of top-5 hits showing the excluded "
              f"content: plain {plain_bad / total:.2f}, vidsearch {ours_bad / total:.2f}")

        # composed
        ranks = {"edit text only": [], "vector mix": [], "vidsearch": []}
        for s in SUBJECTS:
            for c_ref in CONDITIONS:
                for c_new in CONDITIONS:
                    if c_new == c_ref:
                        continue
                    target = name(s, c_new)
                    ref = LikeRef(str(lib / name(s, c_ref)))
                    edit = c_new.lower()
                    ranks["edit text only"].append(files(plain_find(store, embedder, edit, 5)))
                    ref_vec = store.vectors([m for m, _, _ in store.moments_of(store.video_by_path(ref.path).id)])
                    mixed = compose(ref_vec.mean(axis=0), embedder.embed_queries([edit])[0], 0.5)
                    cands = [c for c in store.nearest(mixed, 50) if Path(c.path).name != Path(ref.path).name]
                    ranks["vector mix"].append(files(merge_adjacent(cands, margin=float("inf"))[:5]))
                    ours = find(store, embedder, f"but {edit}", SearchOptions(limit=5, like=ref))
                    ranks["vidsearch"].append(files(ours))
                    for k in ranks:
                        ranks[k][-1] = [target in ranks[k][-1][:1], target in ranks[k][-1][:5]]
        n = len(ranks["vidsearch"])
        for k, rows in ranks.items():
            arr = np.array(rows, dtype=float)
            print(f"composed queries ({n}), {k:15s}: recall@1 {arr[:, 0].mean():.2f}  recall@5 {arr[:, 1].mean():.2f}")

        # order
        plain_ok = ours_ok = 0
        for a, b in PAIRS:
            want = f"{a}_then_{b}.mp4".replace(" ", "_").lower()
            query = f"{a.lower()}, then {b.lower()}"
            plain_ok += files(plain_find(store, embedder, query, 1))[:1] == [want]
            ours_ok += files(find(store, embedder, query, SearchOptions(limit=1)))[:1] == [want]
        print(f"order queries ({len(PAIRS)}): recall@1 plain {plain_ok / len(PAIRS):.2f}, "
              f"vidsearch {ours_ok / len(PAIRS):.2f}")

        # several positive clauses: the whole sentence blended in
        store.close()

        # several positive clauses, the whole sentence blended in: a second library where each clip has
        # three attributes (subject, place, time), queried in the cards' words and in other words
        lib3 = Path(tmp) / "lib3"
        lib3.mkdir()
        for s in SUBJECTS:
            for place in PLACES:
                for when in TIMES:
                    write_video(lib3 / name(s, f"{place} {when}"), [Scene(title_card(f"{s} {place} {when}"), 4)],
                                fps=5, size=(480, 270))  # fmt: skip
        store = Store.open(Path(tmp) / "index3.db")
        update_index(store, [str(lib3)], lambda: embedder, model_name="lite")
        words_of = {**SYNONYMS, **PLACES, **TIMES}
        for wording, words in (("card words", str.lower), ("other words", words_of.__getitem__)):
            rows: dict[float, list[float]] = {w: [] for w in WHOLE_WEIGHTS}
            for s in SUBJECTS:
                for place in PLACES:
                    for when in TIMES:
                        want = name(s, f"{place} {when}")
                        for form in CONJUNCTIONS:
                            query = form.format(s=words(s), p=words(place), t=words(when))
                            for w in WHOLE_WEIGHTS:
                                got = files(find(store, embedder, query, SearchOptions(limit=10, whole_weight=w)))
                                rows[w].append(1.0 / (got.index(want) + 1) if want in got else 0.0)
            n = len(rows[0.0])
            for w, rr in rows.items():
                arr = np.array(rr)
                print(f"several clauses, {wording} ({n}), whole-sentence weight {w:.2f}: "
                      f"recall@1 {np.mean(arr == 1.0):.2f}  MRR@10 {arr.mean():.3f}")
        store.close()


if __name__ == "__main__":
    main()
