"""Reading a safetensors checkpoint into a model tensor by tensor, without a second copy in memory.

The model is built with uninitialised weights, then each tensor is read straight into its place; a
Linear may be converted (to int8) as soon as it is read, and the token table is mapped from the file
instead of read. The peak memory is then about the converted model, where a plain load holds the
float model whole first. torch is imported at this module's import time.
"""

from __future__ import annotations

import gc
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch


def load_streamed(
    folder: Path,
    config: Any,
    dtype: torch.dtype,
    *,
    convert: Callable[[torch.nn.Linear], torch.nn.Module] | None = None,
    skip: Sequence[str] = (),
) -> torch.nn.Module | None:
    """Load a checkpoint tensor by tensor into a ``dtype`` model, never holding a second copy of it.

    The model is built with uninitialised weights (memory the process never touches costs no RAM);
    then each module's tensors are read from the ``*.safetensors`` files in ``folder`` (plain reads,
    not a memory map, whose pages would stay counted). With ``convert`` each Linear outside ``skip``
    becomes ``convert(linear)`` (int8) before the next is read, so the peak RAM is about the
    converted model plus one float32 Linear. The token table, when stored in ``dtype``, is mapped
    from the file copy-on-write instead of read: only the rows of tokens in use ever take RAM (the
    2B model's table is 0.58 GiB). ``config`` may be cut to an exit layer: later layers are never
    read. Returns None when the checkpoint's names do not map one to one onto the model (the caller
    then loads it the usual way). Raises ``OSError``/``ValueError`` for unreadable files.
    """
    from transformers import AutoModel
    from transformers.initialization import no_init_weights

    stored = _safetensors_index(sorted(folder.glob("*.safetensors")))
    if not stored:
        return None
    with no_init_weights():
        model = AutoModel.from_config(config, dtype=dtype)
    wanted = set(model.state_dict())  # names only: the dict would keep every float weight alive
    # a checkpoint saved from the ...ForConditionalGeneration class names its weights "model.<name>"
    prefix = "" if all(k in stored for k in wanted) else "model."
    if not all(prefix + k in stored for k in wanted):
        return None
    kept = kept_modules(model, skip)
    table = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    handles: dict[Path, Any] = {}
    try:
        # names, not modules: a list holding the Linears would keep every float32 copy alive
        for name in [n for n, _ in model.named_modules()]:
            module = model.get_submodule(name)
            for tensor_name, tensor in [*module._parameters.items(), *module._buffers.items()]:
                key = f"{name}.{tensor_name}" if name else tensor_name
                if tensor is None or key not in wanted:
                    continue
                entry = stored[prefix + key]
                if table is not None and module is table and tensor_name == "weight" and entry[1] == tensor.dtype:
                    table.weight = torch.nn.Parameter(_mapped_tensor(entry), requires_grad=False)
                else:
                    _read_tensor(entry, tensor.data, handles)
            if convert is not None and type(module) is torch.nn.Linear and id(module) not in kept:
                parent_name, _, child_name = name.rpartition(".")
                setattr(model.get_submodule(parent_name), child_name, convert(module))
                del module
                give_back_freed_memory()
    finally:
        for handle in handles.values():
            handle.close()
    gc.collect()
    give_back_freed_memory()
    return model.eval()


def _mapped_tensor(entry: tuple[Path, torch.dtype, list[int], int, int]) -> torch.Tensor:
    """One stored tensor as a copy-on-write memory map of its file: pages are read when first touched."""
    import mmap

    path, dtype, shape, begin, end = entry
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # private: the file is never written
    count = (end - begin) // dtype.itemsize
    # the tensor keeps the map alive; closing the file does not unmap it
    return torch.frombuffer(mapped, dtype=dtype, count=count, offset=begin).view(shape)


def give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system (glibc only; elsewhere nothing happens).

    Quantizing frees a float32 copy per Linear; glibc keeps such freed blocks mapped (measured on the
    2B shape: 1.5 GiB of the resident memory after loading was freed heap), which malloc_trim returns.
    """
    import ctypes
    import ctypes.util

    if platform.system() != "Linux":
        return
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return
    if trim is not None:
        trim(0)


_SAFETENSORS_DTYPES = {
    "BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}  # fmt: skip


def _safetensors_index(files: Sequence[Path]) -> dict[str, tuple[Path, torch.dtype, list[int], int, int]]:
    """{name: (file, dtype, shape, first byte, end byte)} over safetensors files (their JSON headers)."""
    import json

    out = {}
    for path in files:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
            out[key] = (path, dtype, list(entry["shape"]), 8 + size + begin, 8 + size + end)
    return out


def _read_tensor(entry: tuple[Path, torch.dtype, list[int], int, int], into: torch.Tensor, handles) -> None:
    """Read one stored tensor into ``into`` (same shape; converted when the dtypes differ)."""
    path, dtype, shape, begin, end = entry
    if list(into.shape) != shape:
        raise ValueError(f"{path.name}: a tensor of shape {shape} where the model has {list(into.shape)}")
    handle = handles.get(path) or handles.setdefault(path, open(path, "rb"))  # noqa: SIM115 (closed by caller)
    target = into if into.dtype == dtype and into.is_contiguous() else torch.empty(shape, dtype=dtype)
    raw = target.reshape(-1).view(torch.uint8).numpy()
    handle.seek(begin)
    if handle.readinto(raw) != end - begin:
        raise ValueError(f"{path.name} ends before the tensor it lists")
    if target is not into:
        into.copy_(target)


def kept_modules(model: torch.nn.Module, skip: Sequence[str]) -> set[int]:
    return {id(m) for name in skip if hasattr(model, name) for m in getattr(model, name).modules()}


def quantize_linears(
    model: torch.nn.Module, convert: Callable[[torch.nn.Linear], torch.nn.Module], skip: Sequence[str] = ()
) -> torch.nn.Module:
    """Replace every ``nn.Linear`` of ``model`` outside the submodules named in ``skip`` by ``convert(it)``.

    One Linear at a time (a float32 copy of one weight at most), so the peak RAM stays about the
    size of the model as loaded. Tensors left viewing a memory-mapped checkpoint are copied, since
    they would keep all its pages resident. Returns ``model``.
    """
    kept = kept_modules(model, skip)
    # Only parents are listed: a list holding the Linears would keep every float32 copy alive.
    parents = [m for m in model.modules() if id(m) not in kept and type(m) is not torch.nn.Linear]
    for parent in parents:
        for child_name in [n for n, c in parent.named_children() if type(c) is torch.nn.Linear]:
            setattr(parent, child_name, convert(getattr(parent, child_name)))
    for module in model.modules():
        module._apply(lambda t: t.clone(), recurse=False)
    gc.collect()
    give_back_freed_memory()
    return model

