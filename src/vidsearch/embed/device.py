"""Where a model runs and in which number format: the one place that decides device and dtype.

torch is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import platform
import re

from vidsearch.errors import UsageError

# Read by cpu_supports_bf16(); a module constant so tests (and odd systems) can point it elsewhere.
CPUINFO_PATH = "/proc/cpuinfo"

# CPU flags that make bf16 matrix maths fast. Without them torch emulates bf16 and it is far slower
# than fp32 (the Qwen3-VL spike measured about 14x slower with AMX switched off).
_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})

# Precision names a user may ask for -> torch dtype names. int8/int4 will join this table later;
# the dtype name then says what the weights are loaded as before quantising.
PRECISIONS: dict[str, str] = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def pick_device(requested: str = "auto") -> str:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a device string usable here.

    ``"auto"`` prefers CUDA, then Apple's MPS, then the CPU. An explicit device that this machine
    does not have raises ``UsageError`` saying what is available instead.
    """
    import torch

    name = requested.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cpu":
        return "cpu"
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(f"device 'mps' is not available here (no Apple GPU); {_available_hint()}")
        return "mps"
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match:
        if not torch.cuda.is_available():
            raise UsageError(
                f"device '{requested}' is not available here: this torch sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); {_available_hint()}"
            )
        if match.group(1) is not None:
            index, count = int(match.group(1)), torch.cuda.device_count()
            if index >= count:
                raise UsageError(
                    f"device '{requested}' is not available here: only {count} CUDA device(s), "
                    f"numbered 0 to {count - 1}"
                )
        return name
    raise UsageError(f"unknown device '{requested}': use auto, cpu, cuda, cuda:N or mps")


def _available_hint() -> str:
    import torch

    options = ["cpu"]
    if torch.cuda.is_available():
        options.append("cuda")
    if torch.backends.mps.is_available():
        options.append("mps")
    return "use --device " + " or ".join(["auto", *options])


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """True when this CPU does bf16 matrix maths in hardware (AMX or AVX512-BF16).

    ``cpuinfo`` is the text of /proc/cpuinfo (read from ``CPUINFO_PATH`` when None). Outside Linux
    the answer is False: Apple-silicon CPUs run bf16 slowly (their fast path is MPS in fp16).
    """
    if cpuinfo is None:
        if platform.system() != "Linux":
            return False
        try:
            with open(CPUINFO_PATH, encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & _BF16_CPU_FLAGS)


def pick_dtype(device: str, precision: str = "auto") -> str:
    """Return the torch dtype name ("bfloat16", "float16", "float32") to run a model in on ``device``.

    ``precision`` is "auto", "bf16", "fp16" or "fp32". "auto" means: CUDA -> bf16 where the GPU
    supports it, else fp16; MPS -> fp16; CPU -> bf16 when the CPU has AMX/AVX512-BF16, else fp32.
    """
    name = precision.strip().lower()
    if name != "auto":
        if name not in PRECISIONS:
            raise UsageError(f"unknown precision '{precision}': use auto, {', '.join(PRECISIONS)}")
        return PRECISIONS[name]
    if device.startswith("cuda"):
        import torch

        return PRECISIONS["bf16"] if torch.cuda.is_bf16_supported() else PRECISIONS["fp16"]
    if device == "mps":
        return PRECISIONS["fp16"]
    return PRECISIONS["bf16"] if cpu_supports_bf16() else PRECISIONS["fp32"]
