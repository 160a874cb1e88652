"""The lite model's numpy sentence encoder: the reference's vectors, and a find that never imports torch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidsearch.embed import lite, textenc

ok, why = lite.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"lite model not installed: {why}")

LONG = " ".join(f"word{i % 50} and more" for i in range(400))  # far past 256 tokens
TEXTS = [
    "a dog jumping into a lake",
    "not raining, person closing door",
    "",
    " ",
    "!!!",
    "x",
    "A Photo Of A GOLDEN RETRIEVER",
    "Ünïcödé naïve café, résumé",
    "東京の夜景と富士山",
    "Привет, мир",
    "مرحبا بالعالم",
    "😀 a party with 🎉 and 🐕",
    "12:30 on 2024-05-01, 3.5 km",
    "tab\tand\nnewline",
    LONG,
    "the " * 300,
]


@pytest.fixture(scope="module")
def numpy_encoder() -> textenc.SentenceEncoder:
    return textenc.SentenceEncoder(lite._minilm_dir())


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return lite._SentenceEncoder(lite._minilm_dir(), "cpu").encode(TEXTS, batch_size=4)


@pytest.mark.slow
def test_same_vectors_as_the_torch_encoder(numpy_encoder: textenc.SentenceEncoder, torch_vectors: np.ndarray) -> None:
    ours = numpy_encoder.encode(TEXTS, batch_size=4)  # batches of like lengths: long texts pad together
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    cosine = (ours * torch_vectors).sum(axis=1)
    worst = int(np.argmin(cosine))
    assert cosine.min() >= 0.9999, (TEXTS[worst][:40], float(cosine[worst]))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_same_vectors_as_sentence_transformers(numpy_encoder: textenc.SentenceEncoder) -> None:
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(lite._minilm_dir()), device="cpu")
    theirs = reference.encode(TEXTS, batch_size=4, convert_to_numpy=True, normalize_embeddings=True)
    cosine = (numpy_encoder.encode(TEXTS, batch_size=4) * theirs).sum(axis=1)
    assert cosine.min() >= 0.9999


@pytest.mark.slow
def test_long_text_is_cut_at_the_model_length(numpy_encoder: textenc.SentenceEncoder) -> None:
    tokens = numpy_encoder.tokenizer.encode(LONG).tokens
    assert len(tokens) == textenc.MAX_TOKENS
    words = LONG.split()
    # the text up to where the tokenizer cut is the same sentence to the model; half of it is not
    kept = numpy_encoder.tokenizer.encode(LONG).offsets[-2][1]
    a, b, c = numpy_encoder.encode([LONG, LONG[:kept], " ".join(words[:60])])
    assert float(a @ b) > 0.99999
    assert float(a @ c) < 0.999


@pytest.mark.slow
def test_batch_padding_changes_nothing(numpy_encoder: textenc.SentenceEncoder) -> None:
    texts = [t for t in TEXTS if len(t) < 100] + [" ".join(LONG.split()[:40])]  # lengths 2 to 50 tokens
    together = numpy_encoder.encode(texts, batch_size=64)
    alone = np.stack([numpy_encoder.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() < 1e-5


def _ascii_texts() -> list[str]:
    """Plain-ASCII texts meant to trip a tokenizer: every printable and control character, runs of
    punctuation, words past WordPiece's 100-character limit, words no vocabulary piece spells."""
    rng = np.random.default_rng(7)
    alphabet = [chr(c) for c in range(128)]
    texts = [t for t in TEXTS if t.isascii()]
    names = (Path(lite.__file__).parent.parent / "data" / "imagenet_classes.txt").read_text().splitlines()
    texts += [n for n in names if n.isascii()]
    texts += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 60)))) for _ in range(300)]
    texts += ["".join(rng.choice(list("ab.,'- xyzq\t"), size=int(rng.integers(1, 40)))) for _ in range(100)]
    texts += ["a" * 100, "a" * 101, "x" + "q" * 150 + " dog", "sunset's glow--over the sea...!?", "don't, won't",
              "zzxqjkw", "##ing ing ##", "[CLS] [SEP] [UNK] [PAD]", "C++ & F# @home #tag $5 50% {x|y} ~a^b",
              "under\x1fscore\x00nul\x7fdel\x0bvt\x0cff\x1crs", "line\r\nbreak", " ".join(["word"] * 300)]
    return texts


def test_the_python_tokenizer_gives_the_model_tokenizers_ids(numpy_encoder: textenc.SentenceEncoder) -> None:
    fast = numpy_encoder._wordpiece
    assert fast is not None  # the bundled MiniLM is an uncased BERT vocabulary
    texts = _ascii_texts()
    reference = numpy_encoder.tokenizer.encode_batch(texts)
    for text, ref in zip(texts, reference, strict=True):
        want = ref.ids[: sum(ref.attention_mask)]
        if fast.reads(text):
            assert fast.ids(text, textenc.MAX_TOKENS) == want, repr(text)
        else:  # a special token written out: the model's tokenizer reads it
            assert numpy_encoder.token_ids([text])[0].tolist() == [want], repr(text)
    assert sum(fast.reads(t) for t in texts) >= len(texts) - 2


def test_non_ascii_text_goes_to_the_model_tokenizer(numpy_encoder: textenc.SentenceEncoder) -> None:
    ids, mask = numpy_encoder.token_ids(["Ünïcödé café", "a dog"])
    want = numpy_encoder.tokenizer.encode_batch(["Ünïcödé café", "a dog"])
    assert ids.tolist() == [e.ids for e in want]
    assert mask.tolist() == [[bool(m) for m in e.attention_mask] for e in want]


def test_unreadable_weights_raise_value_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError):
        textenc.read_safetensors(bad)


# ---- find with the lite model, as a user runs it ---------------------------------------------------
NEVER_ON_FIND = ("torch", "torchvision", "transformers", "av", "cv2", "PIL", "rapidocr_onnxruntime", "onnxruntime",
                 "efficientnet_lite_pytorch", "sentence_transformers", "rich",
                 # tens of milliseconds each, for nothing a search uses: numpy.ma comes with np.unique's
                 # first call, the budget table is the multimodal model's, the other commands' code
                 "numpy.ma", "vidsearch.embed.budget", "vidsearch.index", "vidsearch.speech.model",
                 "vidsearch.service.server",
                 # loading its tokenizer.json costs more than encoding a query: ASCII queries skip it
                 "tokenizers",
                 # typer 0.29 validates every option through pydantic (pyproject pins typer below it)
                 "pydantic")


def _lite_library(db: Path) -> None:
    from vidsearch.store import Store

    rng = np.random.default_rng(0)
    with Store.open(db) as store:
        store.bind_model("lite", lite.MODEL_ID, lite.DIM)
        for v in range(10):
            vecs = rng.standard_normal((20, lite.DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.save_video(path=f"/lib/v{v}.mp4", root_id=None, size=1, mtime_ns=1, fingerprint=str(v),
                             info=None, moments=[(i * 2.0, i * 2.0 + 2) for i in range(20)], vectors=vecs)


# the command line as `python -m vidsearch` runs it, with the compact index used whatever the library's size
_COMPACT_MAIN = "from vidsearch.store import Store; Store.ann_min_moments = 0; from vidsearch.cli import main; main()"


def _imported_by_find(db: Path, cache: Path, query: str, compact: bool = False) -> tuple[set[str], str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "VIDSEARCH_NO_SERVICE": "1"}
    run = ["-c", _COMPACT_MAIN] if compact else ["-m", "vidsearch"]
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *run, "find", query, "--db", str(db), "-f", "tsv", "--min-match", "0"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    modules = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", out.stderr, re.MULTILINE))
    assert "vidsearch.query.search" in modules  # the parse found the import lines
    return modules, out.stdout


@pytest.mark.slow
def test_find_with_the_lite_model_never_imports_torch(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    _lite_library(db)
    new, first = _imported_by_find(db, tmp_path / "cache", "a dog jumping into a lake, at dusk")
    repeated, second = _imported_by_find(db, tmp_path / "cache", "a dog jumping into a lake, at dusk")
    assert first == second and len(first.splitlines()) == 10
    for modules in (new, repeated):
        assert not modules & set(NEVER_ON_FIND), sorted(modules & set(NEVER_ON_FIND))
    assert "vidsearch.embed.textenc" in new  # the new query ran the encoder...
    assert "vidsearch.embed.textenc" not in repeated  # ...the repeated one came from the query cache


@pytest.mark.slow
def test_find_on_the_compact_index_imports_only_what_it_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidsearch.store import Store

    db = tmp_path / "index.db"
    _lite_library(db)
    monkeypatch.setattr(Store, "ann_min_moments", 0)
    with Store.open(db) as store:
        assert store.refresh_search_index() is not None  # built here: a find only reads it
    modules, found = _imported_by_find(db, tmp_path / "cache", "a red kite over a beach", compact=True)
    assert len(found.splitlines()) == 10
    assert "vidsearch.store.ivf" in modules and "vidsearch.embed.textenc" in modules
    assert not modules & set(NEVER_ON_FIND), sorted(modules & set(NEVER_ON_FIND))


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("3", "3")])
def test_find_keeps_numpy_maths_on_one_thread_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str | None, expected: str
) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    db = tmp_path / "index.db"
    _lite_library(db)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "unset")  # remembered, so the test leaves it as it found it
    if preset is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset)
    result = CliRunner().invoke(app, ["find", "a dog", "--db", str(db), "-f", "tsv", "--min-match", "0"])
    assert result.exit_code == 0, result.output
    assert os.environ["OPENBLAS_NUM_THREADS"] == expected  # what a process started from here inherits
