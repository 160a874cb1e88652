"""The lite model's sentence encoder (all-MiniLM-L6-v2) in plain numpy: texts -> unit vectors.

Why numpy and not torch: a search embeds a handful of short texts, and importing torch costs a
second or more and hundreds of megabytes before the first multiplication; the whole model here
is a dozen small matrix products per layer. The weights are memory-mapped from the bundled
safetensors file, so a query touches only the rows of the word-embedding table its tokens use
(that table is half the file). onnxruntime was measured too: its import alone costs more than
loading and running this encoder.

The maths is BERT's, as the reference (sentence-transformers' Transformer + mean Pooling +
Normalize) runs it: token + position + segment-0 embeddings, layer norm, six post-norm encoder
layers (12-head attention, exact erf GELU), mean over the real tokens, L2 normalisation. Texts
are cut at the model's ``max_seq_length`` (256 tokens) as the reference does.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length

# safetensors dtype names -> numpy dtypes (the ones a BERT checkpoint uses)
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a read-only array backed by one memory map.

    Nothing is read until used: pages come in from the file as the arrays are touched (and can be
    dropped again by the OS), so a large table of which a query uses a few rows costs a few pages.
    Raises ValueError when the file is not a safetensors file or uses a dtype not listed above.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: not a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 1 << 26):
            raise ValueError(f"{path}: not a safetensors file")
        header = json.loads(f.read(length))
    start = 8 + length
    data = np.memmap(path, dtype=np.uint8, mode="r")
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        lo, hi = (int(x) for x in info["data_offsets"])
        shape = tuple(int(s) for s in info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if start + hi > size or hi - lo != count * np.dtype(dtype).itemsize:
            raise ValueError(f"{path}: tensor {name} does not fit the file")
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=start + lo).reshape(shape)
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26): below float32's resolution near 1."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's "gelu" is the exact erf form, not the tanh approximation
    return 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / np.sqrt(2.0))))


# ASCII characters BERT's pre-tokenizer splits off as words of their own (every ASCII punctuation
# mark and symbol), and the control characters its normaliser drops (tab, newline and carriage
# return count as spaces).
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ASCII_DROPPED = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32), 127]}


class AsciiWordPiece:
    """BERT's uncased WordPiece tokenizer for plain-ASCII text, in Python, from the model's vocab.txt.

    Why: loading ``tokenizers``' full tokenizer.json costs several times what encoding a query does,
    and for ASCII text BERT's uncased tokenizer reduces to a few rules: drop control characters,
    lower-case, split on spaces and around each punctuation mark, then greedy longest-match
    WordPiece (``##`` continuations; a word with a piece not in the vocabulary, or longer than 100
    characters, is ``[UNK]``), framed by ``[CLS]`` and ``[SEP]``. Accents and CJK handling never
    apply to ASCII. Anything else goes to ``tokenizers``; a test holds the two to the same ids.
    """

    MAX_WORD_CHARS = 100  # tokenizer.json's max_input_chars_per_word

    def __init__(self, vocab_text: str, specials: Sequence[str] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")):
        # One word per line, the line number its id. Building a dictionary of all 30,000 costs more
        # than a query's few dozen look-ups in the text itself, so it is built only for long work.
        self._text = "\n" + vocab_text.rstrip("\n") + "\n"
        self._vocab: dict[str, int] | None = None
        self._lookups = 0
        cls, sep, unk = (self.index(s) for s in ("[CLS]", "[SEP]", "[UNK]"))
        if cls is None or sep is None or unk is None:
            raise KeyError("not a BERT vocabulary: [CLS], [SEP] or [UNK] missing")
        self.cls, self.sep, self.unk = cls, sep, unk
        # special tokens written in a text are read as themselves by the model's tokenizer
        self.specials = tuple(specials)

    def index(self, piece: str) -> int | None:
        """The id of vocabulary entry ``piece`` (its first line), or None."""
        if self._vocab is None:
            self._lookups += 1
            if self._lookups <= 2000:
                at = self._text.find("\n" + piece + "\n")
                return None if at < 0 else self._text.count("\n", 0, at)
            words = self._text[1:-1].split("\n")
            self._vocab = dict(zip(reversed(words), range(len(words) - 1, -1, -1), strict=True))  # first line wins
        return self._vocab.get(piece)

    def reads(self, text: str) -> bool:
        """Whether ``ids`` gives the model tokenizer's ids for ``text``: plain ASCII, no special token."""
        return text.isascii() and not ("[" in text and any(s in text for s in self.specials))

    @classmethod
    def of(cls, folder: Path) -> AsciiWordPiece | None:
        """The tokenizer for ``folder`` when it is an uncased BERT WordPiece one with a vocab.txt, else None."""
        try:
            settings = json.loads((folder / "tokenizer_config.json").read_text())
            vocab_text = (folder / "vocab.txt").read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None
        uncased_bert = (
            settings.get("tokenizer_class") in ("BertTokenizer", "BertTokenizerFast")
            and settings.get("do_lower_case") is True
            and settings.get("do_basic_tokenize", True) is True
            and not settings.get("never_split")
            and settings.get("strip_accents") in (None, True)
        )
        if not uncased_bert:
            return None
        names = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
        specials = [t for t in (settings.get(n, "") for n in names) if isinstance(t, str) and t]
        try:
            return cls(vocab_text, specials)
        except KeyError:  # no [CLS]/[SEP]/[UNK]: not a BERT vocabulary
            return None

    def _pieces(self, word: str, out: list[int]) -> None:
        if len(word) > self.MAX_WORD_CHARS:
            out.append(self.unk)
            return
        found: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                index = self.index(piece)
                if index is not None:
                    found.append(index)
                    break
                end -= 1
            else:
                out.append(self.unk)
                return
            start = end
        out.extend(found)

    def ids(self, text: str, max_tokens: int) -> list[int]:
        """Token ids of ASCII ``text`` with [CLS] and [SEP], at most ``max_tokens`` of them."""
        out = [self.cls]
        for chunk in text.translate(_ASCII_DROPPED).lower().split():
            word = ""
            for c in chunk:
                if c in _ASCII_PUNCTUATION:
                    if word:
                        self._pieces(word, out)
                        word = ""
                    index = self.index(c)
                    out.append(self.unk if index is None else index)
                else:
                    word += c
            if word:
                self._pieces(word, out)
            if len(out) >= max_tokens:
                break
        del out[max_tokens - 1 :]
        out.append(self.sep)
        return out


class SentenceEncoder:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384-d) over numpy: texts -> mean-pooled unit vectors.

    ``folder`` holds the sentence-transformers export: config.json, model.safetensors and
    tokenizer.json. Raises OSError, ValueError or KeyError when they are missing or malformed.
    """

    max_tokens = MAX_TOKENS

    def __init__(self, folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = np.float32(config["layer_norm_eps"])
        self.dim = int(config["hidden_size"])
        weights = read_safetensors(folder / "model.safetensors")
        # A checkpoint saved from BertModel names its tensors without the "bert." prefix; one saved
        # from a task head has it. Accept both.
        self.w: dict[str, np.ndarray] = {k.removeprefix("bert."): v for k, v in weights.items()}
        missing = [k for k in self._needed() if k not in self.w]
        if missing:
            raise KeyError(f"model.safetensors lacks {missing[0]} (and {len(missing) - 1} more)")
        self.folder = folder
        self._tokenizer: Any = None
        self._wordpiece = AsciiWordPiece.of(folder)

    @property
    def tokenizer(self) -> Any:
        """The model's own tokenizer (``tokenizers``), loaded on first use: it takes longer to load
        than a short query takes to encode, and ``AsciiWordPiece`` reads plain-ASCII texts without it."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            self._tokenizer.enable_truncation(max_length=self.max_tokens)
            self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch
        return self._tokenizer

    def token_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, attention mask) of ``texts``, padded to the longest, each cut at ``max_tokens``."""
        if self._wordpiece is not None and all(self._wordpiece.reads(t) for t in texts):
            rows = [self._wordpiece.ids(t, self.max_tokens) for t in texts]
        else:
            rows = [e.ids[: sum(e.attention_mask)] for e in self.tokenizer.encode_batch(list(texts))]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), bool)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = True
        return ids, mask

    def _needed(self) -> list[str]:
        names = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                 "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight"]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            names += [p + part + ".weight" for part in (
                "attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                "output.dense", "output.LayerNorm")]
        return names

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # as one 2-D product: numpy hands a stacked (batch, tokens, dim) product with a transposed
        # weight to its own slow loop instead of BLAS, about 100x slower for a batch of phrases
        weight = self.w[name + ".weight"]
        out = x.reshape(-1, x.shape[-1]) @ weight.T + self.w[name + ".bias"]
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        return centred / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Return a (len(texts), 384) float32 array of unit vectors, in the order of ``texts``."""
        out = np.zeros((len(texts), self.dim), np.float32)
        # Sort by length so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            ids, mask = self.token_ids([texts[i] for i in idx])
            out[idx] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> Any:
        w = self.w
        b, n = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        head = self.dim // self.heads
        scale = np.float32(1.0 / np.sqrt(head))
        # padding keys get no attention weight (a large negative logit, not -inf, so nothing is NaN)
        bias = np.where(mask, np.float32(0.0), np.float32(-1e30))[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                self._linear(x, p + f"attention.self.{part}").reshape(b, n, self.heads, head).transpose(0, 2, 1, 3)
                for part in ("query", "key", "value")
            )
            logits = (q * scale) @ k.transpose(0, 1, 3, 2) + bias
            logits -= logits.max(axis=-1, keepdims=True)
            weights = np.exp(logits)
            weights /= weights.sum(axis=-1, keepdims=True)
            a = (weights @ v).transpose(0, 2, 1, 3).reshape(b, n, self.dim)
            x = self._norm(x + self._linear(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = _gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
