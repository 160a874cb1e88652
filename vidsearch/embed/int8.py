"""int8 Linear layers that keep one copy of their weights, for CPUs with AMX int8 units (oneDNN).

torch.ao's dynamic int8 Linear, packed for the "onednn" engine, keeps the plain int8 weight beside
the packed one (measured: 24.3 MB per 2048x6144 Linear against 12.2 MB with the "x86" engine), so on
AMX CPUs int8 saved no memory over bf16. This module calls oneDNN's own int8 matmul
(``torch.ops.onednn.qlinear_prepack`` / ``qlinear_pointwise``, the kernels torch's compiler uses for
quantized x86 models) with only the packed weight kept: 12.8 MB for the same Linear.

Weights: int8, one scale per output row (symmetric). Activations: quantized on the fly to uint8
with one scale and zero point per call (asymmetric, from the call's minimum and maximum), and the
result comes back in the input's dtype (bf16 or fp32), so the rest of the model computes as usual.
Measured on this project's 2-core AMX CPU, bf16 in and out, activation quantization included:
640 x 2048 by 2048 x 6144 in 7.4 ms against 8.8 ms for a bf16 Linear; 16 rows 0.63 ms against 1.5 ms.

Quantizing the activations costs time in proportion to rows x in_features on every call, which pays
off while a call has no more rows than the layer has outputs: the language model's calls (a few
hundred rows per batch of moments, a few dozen for a query) and most of the vision tower's. A call
with more rows (a vision projection fed thousands of patches) instead widens the int8 weight to the
activations' dtype (in x out work, whatever the rows, into a scratch tensor reused across calls)
and multiplies in bf16. Measured here, 2048 rows of the 2B vision tower's 4096 -> 1024 projection:
bf16 7.4 ms, int8 matmul 11.3 ms, widened weight 9.2 ms; of its 1024 -> 4096 one: bf16 7.3 ms,
int8 matmul 5.9 ms.

torch is imported at this module's import time; only the Qwen3-VL backend imports it.
"""

from __future__ import annotations

import gc
import threading
import warnings
import weakref
from typing import Any, cast

import torch


def onednn_int8_available() -> bool:
    """True when this torch has oneDNN's int8 matmul operators (x86 builds with oneDNN)."""
    try:
        ops = torch.ops.onednn
        return hasattr(ops, "qlinear_prepack") and hasattr(ops, "qlinear_pointwise")
    except (AttributeError, RuntimeError):
        return False


_SCRATCH = threading.local()  # per thread: {(in, out, dtype): widened weight}, the last activations quantized


def _quantized(x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(uint8 codes, scale, int32 zero point) of ``rows`` (a view of ``x``), one scale for the call.

    Layers fed the same tensor one after the other (a decoder layer's q, k and v projections; the
    MLP's gate and up projections) share one quantization: the last input is remembered by identity
    (a weak reference, so it is never kept alive) and shape. This relies on the model not changing
    an input in place between two such calls, which transformers' attention and MLP blocks do not.
    """
    last = getattr(_SCRATCH, "last", None)
    if last is not None and last[0]() is x and last[1] == (x.data_ptr(), tuple(rows.shape)):
        return last[2]
    # one scale for the whole call: the kernel takes a single activation scale and zero point
    low, high = torch.aminmax(rows)  # one pass over the activations, not two
    low, high = low.float().clamp(max=0.0), high.float().clamp(min=0.0)
    scale = ((high - low) / 255.0).clamp(min=1e-12)
    zero = torch.round(-low / scale)
    # in place on one float32 copy (never on the caller's tensor): this runs for every Linear call
    codes = rows.to(torch.float32, copy=True).mul_(1.0 / scale).round_().add_(zero).clamp_(0, 255).to(torch.uint8)
    quantized = (codes, scale, zero.to(torch.int32))
    _SCRATCH.last = (weakref.ref(x), (x.data_ptr(), tuple(rows.shape)), quantized)
    return quantized


class OnednnInt8Linear(torch.nn.Module):
    """A Linear layer with int8 weights packed for oneDNN; input and output keep the caller's dtype.

    Build it with :meth:`from_linear`. The packed weight, its scales and the bias are plain attributes,
    not parameters or buffers, so a later ``model.to(dtype)`` cannot cast them into a format the
    kernel does not take.
    """

    def __init__(self, packed: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None,
                 in_features: int, out_features: int) -> None:  # fmt: skip
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.packed = packed
        self.scales = scales
        self.zero_points = torch.zeros(out_features, dtype=torch.int64)
        self.bias = bias

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> OnednnInt8Linear:
        """Quantize ``linear``'s weight (per output row) and pack it; ``linear`` is left unchanged."""
        with torch.no_grad():
            weight = linear.weight.detach().float()
            scales = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
            codes = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
            del weight
            packed = torch.ops.onednn.qlinear_prepack(codes, None)
            bias = linear.bias.detach().float().clone() if linear.bias is not None else None
        return cls(packed, scales, bias, linear.in_features, linear.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] == 0:
            return x.new_zeros(*x.shape[:-1], self.out_features)
        if rows.shape[0] > self.out_features:
            return self._widened(rows).reshape(*x.shape[:-1], self.out_features)
        codes, scale, zero = _quantized(x, rows)
        out = torch.ops.onednn.qlinear_pointwise.tensor(
            codes, scale, zero, self.packed, self.scales, self.zero_points, self.bias,
            1.0, 0, x.dtype, "none", [], "",
        )  # fmt: skip
        return out.reshape(*x.shape[:-1], self.out_features)

    def _widened(self, rows: torch.Tensor) -> torch.Tensor:
        """rows @ weight.T with the weight widened to the rows' dtype (calls with many rows)."""
        # into a scratch tensor shared by the layers of this shape in this thread: a fresh one per call
        # costs its page faults every time (measured on the 2B vision tower: 0.19 s more per batch)
        key = (self.in_features, self.out_features, rows.dtype)
        scratch = _SCRATCH.__dict__.setdefault("weights", {})
        weight = scratch.get(key)
        if weight is None:
            with torch.inference_mode(False):  # a plain tensor: writable in and out of inference mode
                weight = scratch[key] = torch.empty(self.in_features, self.out_features, dtype=rows.dtype)
        # the packed weight reads back as in x out int8 codes; scale each output column
        torch.mul(self.packed.to_dense(), self.scales.to(rows.dtype)[None, :], out=weight)
        if self.bias is None:
            return rows @ weight
        return torch.addmm(self.bias.to(rows.dtype), rows, weight)

    def weight_bytes(self) -> int:
        """Bytes the packed weight takes (about in_features x out_features)."""
        return self.packed.numel() * self.packed.element_size()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# torch.ao's dynamic int8 Linear: the portable int8 path for CPUs without oneDNN's int8 matmul.


def dynamic_int8_linear(linear: torch.nn.Linear) -> torch.nn.Module:
    """A dynamically quantized int8 copy of ``linear`` (packed for this CPU's best engine)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import default_dynamic_qconfig

    from vidsearch.device import int8_cpu_engine

    engine, previous = int8_cpu_engine(), torch.backends.quantized.engine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        try:
            if engine:
                torch.backends.quantized.engine = engine  # weights are packed for the engine set now
            linear.float()
            cast(Any, linear).qconfig = default_dynamic_qconfig
            return DynamicLinear.from_float(linear)
        finally:
            torch.backends.quantized.engine = previous


class Float32Embedding(torch.nn.Embedding):
    """A token table stored in bf16 (half the RAM) that hands out float32 rows to a float32 model."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (torch's name)
        return super().forward(input).float()


def finish_dynamic_int8(model: torch.nn.Module, kept: set[int]) -> None:
    """Everything not int8 computes in float32, except the kept modules and the bf16 token table."""
    get_table = getattr(model, "get_input_embeddings", None)
    table = get_table() if get_table is not None else None
    for module in model.modules():
        if module is not table and id(module) not in kept:
            module._apply(lambda t: t.to(torch.float32) if t.is_floating_point() else t, recurse=False)
    if isinstance(table, torch.nn.Embedding):
        table.__class__ = Float32Embedding
    gc.collect()

