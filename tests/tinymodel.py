"""Build a tiny Qwen3-VL checkpoint (random weights, real processor) for tests, fully offline.

The folder it writes has the same layout as ``Qwen/Qwen3-VL-Embedding-2B`` (config.json, safetensors,
tokenizer files, processor and video-processor configs, chat template), so ``vidsearch.embed.qwen3vl``
loads it through the same code path as the real model. Vectors are meaningless; shapes, batching,
prompt layout and determinism are what tests can check with it.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# The pre-tokenizer split of Qwen2/Qwen3 tokenizers (letters, digits one by one, punctuation runs).
_QWEN_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
    r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Shaped like the Qwen3-VL chat template (system text, then user content items, then the
# assistant turn opener); like the real one it wraps a video as <|vision_start|><|video_pad|><|vision_end|>,
# so the embedder's handling of that wrapper under transformers 5 is exercised.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' -%}{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

PATCH_SIZE = 8  # the real model uses 16; 8 keeps test frames tiny (resize factor 8 * merge 2 = 16)
HIDDEN = 64  # text hidden size == embedding dimension of the tiny model


def _train_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    corpus = [
        "Represent the user's input.",
        "Retrieve videos relevant to the user's query.",
        "a dog jumps into a lake",
        "a red square moves across a black screen",
        "cooking pasta in a kitchen at night",
        "0.1 0.5 1.0 2.5 seconds",
        "system user assistant",
    ] * 20
    bpe = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=[SPECIAL_TOKENS[0]],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer)
    state = json.loads(bpe.to_str())["model"]
    # tokenizers 0.23 takes merges as tuples, not "a b" strings
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    tokenizer = Qwen2Tokenizer(vocab=state["vocab"], merges=merges, pad_token=SPECIAL_TOKENS[0])
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[1:])})
    return tokenizer


def _processor(tokenizer):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    factor = PATCH_SIZE * 2
    images = Qwen2VLImageProcessor(
        patch_size=PATCH_SIZE,
        temporal_patch_size=2,
        merge_size=2,
        size={"shortest_edge": factor * factor, "longest_edge": 64 * 64},
    )
    videos = Qwen3VLVideoProcessor(
        patch_size=PATCH_SIZE,
        temporal_patch_size=2,
        merge_size=2,
        size={"shortest_edge": 2 * factor * factor, "longest_edge": 16 * 64 * 64},
        do_sample_frames=False,
    )
    return Qwen3VLProcessor(
        image_processor=images, tokenizer=tokenizer, video_processor=videos, chat_template=CHAT_TEMPLATE
    )


def _model(tokenizer, seed: int):
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": HIDDEN,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            # mrope_section must sum to head_dim / 2
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
            "pad_token_id": ids["<|endoftext|>"],
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "patch_size": PATCH_SIZE,
            "temporal_patch_size": 2,
            "spatial_merge_size": 2,
            "out_hidden_size": HIDDEN,  # must equal the text hidden size
            "num_position_embeddings": 64,  # must be a square (an 8x8 learned grid)
            "deepstack_visual_indexes": [0, 1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return Qwen3VLForConditionalGeneration(config).eval()


def build_tiny_qwen3vl(folder: Path, seed: int = 0) -> Path:
    """Write a tiny random-weight Qwen3-VL (model + processor) into ``folder``; return ``folder``.

    Same ``seed`` gives the same weights. Takes about a second on a laptop CPU.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer()
    _model(tokenizer, seed).save_pretrained(folder)
    _processor(tokenizer).save_pretrained(folder)
    return folder


def lowest_agreement(a, b, moments, texts) -> float:
    """The lowest cosine between embedders ``a`` and ``b``'s vectors for the same ``moments`` (Segments)
    and the same query ``texts``: 1.0 when they agree exactly."""
    import numpy as np

    pairs = (
        (a.embed_moments(moments)[0], b.embed_moments(moments)[0]),
        (a.embed_queries(texts), b.embed_queries(texts)),
    )
    return min(float(np.sum(va * vb, axis=1).min()) for va, vb in pairs)
