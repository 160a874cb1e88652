"""Building the Qwen3-VL network from a checkpoint folder: precision (float, int8 on the CPU,
bitsandbytes on CUDA), an exit layer cut into the config, and a faster patch embedding.

torch and transformers are imported at this module's import time, as in ``vidsearch.embed.qwen3vl``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from vidsearch.device import Precision, cpu_supports_bf16
from vidsearch.embed.int8 import dynamic_int8_linear, finish_dynamic_int8
from vidsearch.embed.weights import kept_modules, load_streamed, quantize_linears
from vidsearch.errors import UsageError


def load_network(folder: Path, config: Any, chosen: Precision, device: str, cut: bool) -> torch.nn.Module:
    """Build the network in ``chosen`` precision from the checkpoint in ``folder`` (config already cut).

    On the CPU weights are read tensor by tensor (``load_streamed``): int8 Linears are made as they
    are read and the token table is mapped from the file, not copied. Elsewhere, or when the
    checkpoint's names do not map onto the model, transformers' ``from_pretrained`` loads it.
    """
    from transformers import AutoModel

    dtype = getattr(torch, chosen.dtype)
    convert, skip = int8_plan(chosen)
    load_dtype = torch.bfloat16 if convert is not None else dtype  # half the RAM of fp32 while loading
    network = None
    if device == "cpu" and chosen.quantize in (None, "dynamic-int8", "onednn-int8"):
        network = load_streamed(folder, config, load_dtype, convert=convert, skip=skip)
    if network is None:
        kwargs: dict[str, Any] = {}
        if chosen.quantize is not None and convert is None:
            kwargs = _bitsandbytes_arguments(chosen, dtype, device)
        with _quiet_unused_weights(cut):
            network = AutoModel.from_pretrained(str(folder), config=config, dtype=load_dtype, **kwargs)
        if convert is not None:
            quantize_linears(network, convert, skip=skip)
    if chosen.quantize == "dynamic-int8":
        finish_dynamic_int8(network, kept_modules(network, skip))
    if chosen.quantize is None:
        network.to(device)
    return network


def int8_plan(chosen: Precision) -> tuple[Any, tuple[str, ...]]:
    """(Linear -> int8 module function or None, submodules that keep float weights) for ``chosen``."""
    if chosen.quantize == "onednn-int8":
        from vidsearch.embed.int8 import OnednnInt8Linear

        # The whole model, the vision tower included: calls with more rows than a layer has outputs
        # (a projection fed thousands of patches) widen the weight instead of quantizing the rows
        # (vidsearch.embed.int8). With the tower kept in bf16 instead: 0.38 GiB more on the 2B shape.
        return OnednnInt8Linear.from_linear, ()
    if chosen.quantize == "dynamic-int8":
        # With bf16 hardware the vision tower stays bf16: it is faster there than int8 with fp32
        # activations (2B spike: 1.67 s vs 2.92 s per 8-frame clip), while the language model in int8
        # is as fast as bf16 and half its memory.
        return dynamic_int8_linear, ("visual",) if cpu_supports_bf16() else ()
    return None, ()


class PatchMatmul(torch.nn.Module):
    """A Conv3d whose kernel equals its stride (cutting video into patches), computed as one matmul.

    The vision tower's patch embedding is such a convolution; on the CPU oneDNN runs it in bf16 far
    slower than the same arithmetic as a matrix product (measured on the 2B shape, 2048 patches:
    0.46 CPU s against about 0.01 s). Keeps the convolution's weight and bias (same shapes, same
    dtype), so the output is the convolution's, up to rounding.
    """

    def __init__(self, conv: torch.nn.Conv3d) -> None:
        super().__init__()
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        flat = patches.reshape(patches.shape[0], -1)
        out = F.linear(flat, self.weight.reshape(self.weight.shape[0], -1), self.bias)
        return out[:, :, None, None, None]  # the convolution's (N, out, 1, 1, 1)


def patches_as_matmul(network: torch.nn.Module) -> None:
    """Swap the vision tower's patch convolution for ``PatchMatmul`` where it cuts exact patches."""
    for module in network.modules():
        conv = getattr(module, "proj", None)
        if (
            type(conv) is torch.nn.Conv3d
            and tuple(conv.kernel_size) == tuple(conv.stride)
            and tuple(conv.padding) == (0, 0, 0)
            and conv.groups == 1
            and tuple(conv.dilation) == (1, 1, 1)
            and type(module).__name__.endswith("PatchEmbed")
        ):
            module.proj = PatchMatmul(conv)


def set_exit_layer(config: Any, exit_layer: int | None, name: str) -> int | None:
    """Cut ``config`` to ``exit_layer`` decoder layers; return the exit layer (None for full depth)."""
    if exit_layer is None:
        return None
    depth = int(config.text_config.num_hidden_layers)
    fed = len(getattr(config.vision_config, "deepstack_visual_indexes", None) or ())
    if not fed < exit_layer <= depth:
        raise UsageError(
            f"exit layer must be between {fed + 1} and {depth} for {name} (got {exit_layer}): the first "
            f"{fed} layers receive visual features, and the model has {depth}"
        )
    if exit_layer == depth:
        return None
    config.text_config.num_hidden_layers = exit_layer
    if getattr(config.text_config, "layer_types", None):
        config.text_config.layer_types = list(config.text_config.layer_types)[:exit_layer]
    return exit_layer


@contextlib.contextmanager
def _quiet_unused_weights(quiet: bool) -> Iterator[None]:
    """Silence transformers' "some weights were not used" report: skipping them is the point of an exit."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def weight_bytes(folder: Path) -> int:
    """Bytes of the checkpoint's weight files (about the bf16 model size)."""
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def _bitsandbytes_arguments(chosen: Precision, dtype: torch.dtype, device: str) -> dict[str, Any]:
    """from_pretrained arguments that load Linear weights as bitsandbytes int8 or nf4 on ``device``."""
    from transformers import BitsAndBytesConfig

    # The vision tower is small (about a fifth of the 2B) and sensitive; it keeps float weights.
    if chosen.quantize == "bnb-int8":
        quantization = BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=["visual"])
    else:
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
            llm_int8_skip_modules=["visual"],
        )
    return {"quantization_config": quantization, "device_map": {"": device}}

