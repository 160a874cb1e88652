"""Where a model runs and in which number format: the one place that decides device and dtype.

torch is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
from dataclasses import dataclass

from vidsearch.errors import UsageError

# Read by cpu_supports_bf16(); a module constant so tests (and odd systems) can point it elsewhere.
CPUINFO_PATH = "/proc/cpuinfo"

# CPU flags that make bf16 matrix maths fast. Without them torch emulates bf16 and it is far slower
# than fp32 (the Qwen3-VL spike measured about 14x slower with AMX switched off).
_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})

# Float precision names a user may ask for -> torch dtype names.
PRECISIONS: dict[str, str] = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
# Integer weight formats. The model still computes in a float dtype (``Precision.dtype``).
QUANTIZED = ("int8", "int4")

# On a GPU, quantize under ``auto`` only when the bf16 weights would take more than this share of the
# free memory: bitsandbytes' int8/int4 kernels save memory but run slower than bf16 matmuls.
_GPU_SHARE_BEFORE_QUANTIZING = 0.6


@dataclass(frozen=True)
class Precision:
    """How a model's numbers are stored and computed.

    ``name`` is what a user asks for and reports show (bf16, fp16, fp32, int8, int4). ``dtype`` is the
    torch dtype name activations and unquantized weights use. ``quantize`` says how Linear weights
    become integers: None, "onednn-int8" (CPUs with AMX int8: oneDNN int8 matmuls, bf16 activations
    quantized on the fly, see ``vidsearch.embed.int8``), "dynamic-int8" (other CPUs: torch.ao dynamic
    quantization, int8 weights, fp32 activations quantized on the fly), "bnb-int8" or "bnb-nf4" (CUDA:
    bitsandbytes). ``why`` is one
    line saying why ``auto`` chose it.
    """

    name: str
    dtype: str
    quantize: str | None = None
    why: str = ""


def pick_device(requested: str = "auto", *, small_model: bool = False) -> str:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a device string usable here.

    ``"auto"`` prefers CUDA, then Apple's MPS, then the CPU; for a ``small_model`` (the bundled lite
    model) it means the CPU, where it runs faster than realtime and leaves the GPU to others. An
    explicit device that this machine does not have raises ``UsageError`` saying what is available.
    """
    name = requested.strip().lower()
    if name in ("auto", "cpu") and (small_model or name == "cpu"):
        return "cpu"  # no torch import: the lite model's queries run without it
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
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
    return bool(_cpu_flags(cpuinfo) & _BF16_CPU_FLAGS)


def int8_cpu_engine(cpuinfo: str | None = None) -> str | None:
    """The torch quantized engine int8 Linear weights should be packed for on this CPU.

    "onednn" on CPUs with AMX int8 tiles, where oneDNN's kernels use them (measured on a 2-core AMX
    CPU, 640 x 2048 by 2048 x 6144: 4.7 ms vs 21 ms with torch's default "x86" engine, and faster than
    bf16 up to about 1000 rows); None (keep torch's choice) elsewhere or when torch lacks oneDNN.
    ``cpuinfo`` as for ``cpu_supports_bf16``.
    """
    import torch

    if "amx_int8" in _cpu_flags(cpuinfo) and "onednn" in torch.backends.quantized.supported_engines:
        return "onednn"
    return None


def _cpu_flags(cpuinfo: str | None) -> set[str]:
    if cpuinfo is None:
        if platform.system() != "Linux":
            return set()
        try:
            with open(CPUINFO_PATH, encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return set()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def pick_dtype(device: str, precision: str = "auto") -> str:
    """Return the torch dtype name ("bfloat16", "float16", "float32") a model computes in on ``device``.

    Kept for callers that only need the float type; ``pick_precision`` says whether weights are also
    quantized. Under "auto" a CPU without bf16 hardware computes in float32 (its weights may be int8).
    """
    return pick_precision(device, precision).dtype


def pick_precision(device: str, precision: str = "auto", *, model_bytes: int | None = None) -> Precision:
    """Resolve ``precision`` (auto, bf16, fp16, fp32, int8, int4) for ``device`` into a ``Precision``.

    ``auto`` means:

    * CUDA: bf16 (fp16 on GPUs without bf16); int8, or int4 when even int8 does not fit, through
      bitsandbytes when it is installed and ``model_bytes`` (the bf16 weight size) would take more
      than 60% of the free GPU memory;
    * MPS: fp16;
    * CPU: bf16 when the CPU has AMX or AVX512-BF16 (fast bf16 matmuls); else int8 dynamic
      quantization when torch has a quantized CPU engine (measured about 1.9x faster than fp32 for
      video and 4x for text on a 2B Qwen3-VL, and half its memory), else fp32.

    Raises ``UsageError`` for unknown names and for formats the device cannot run.
    """
    name = precision.strip().lower()
    if name != "auto" and name not in PRECISIONS and name not in QUANTIZED:
        raise UsageError(
            f"unknown precision '{precision}': use auto, {', '.join(PRECISIONS)}, {', '.join(QUANTIZED)}"
        )
    if device.startswith("cuda"):
        return _cuda_precision(name, model_bytes)
    if device == "mps":
        if name in QUANTIZED:
            raise UsageError(f"precision {name} is not available on mps; use --precision fp16 (or auto)")
        if name == "auto":
            return Precision("fp16", "float16", why="Apple GPU: fp16")
        return Precision(name, PRECISIONS[name])
    if name == "int4":
        raise UsageError("precision int4 needs a CUDA GPU; on the CPU use --precision int8 (or auto)")
    if name == "int8":
        if onednn_int8_usable():
            return Precision("int8", "bfloat16", "onednn-int8", why="CPU with AMX int8: oneDNN int8 matmuls")
        if not cpu_int8_available():
            raise UsageError("precision int8 needs a torch build with a quantized CPU engine (fbgemm/x86)")
        return Precision("int8", "float32", "dynamic-int8")
    if name != "auto":
        return Precision(name, PRECISIONS[name])
    if cpu_supports_bf16():
        return Precision("bf16", "bfloat16", why="CPU with AMX/AVX512-BF16: bf16")
    if cpu_int8_available():
        return Precision(
            "int8", "float32", "dynamic-int8", why="CPU without bf16 hardware: int8 weights, fp32 activations"
        )
    return Precision("fp32", "float32", why="CPU without bf16 hardware or a quantized engine: fp32")


def onednn_int8_usable(cpuinfo: str | None = None) -> bool:
    """True when int8 Linears should run on oneDNN's int8 matmul (AMX int8 CPU, torch built with it).

    There they keep one copy of their weights and beat bf16 (``vidsearch.embed.int8``); elsewhere
    int8 goes through torch.ao dynamic quantization. ``cpuinfo`` as for ``cpu_supports_bf16``.
    """
    if int8_cpu_engine(cpuinfo) != "onednn" or not cpu_supports_bf16(cpuinfo):
        return False
    from vidsearch.embed.int8 import onednn_int8_available

    return onednn_int8_available()


def cpu_int8_available() -> bool:
    """True when torch can run dynamically quantized int8 Linear layers on this CPU."""
    import torch

    engines = set(torch.backends.quantized.supported_engines)
    return bool(engines & {"x86", "fbgemm", "qnnpack"})


def bitsandbytes_installed() -> bool:
    """True when the bitsandbytes package (CUDA int8/int4 weights) can be imported."""
    return importlib.util.find_spec("bitsandbytes") is not None


def _cuda_precision(name: str, model_bytes: int | None) -> Precision:
    import torch

    half = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if name == "int8":
        _need_bitsandbytes(name)
        return Precision("int8", half, "bnb-int8")
    if name == "int4":
        _need_bitsandbytes(name)
        return Precision("int4", half, "bnb-nf4")
    if name != "auto":
        return Precision(name, PRECISIONS[name])
    label = "bf16" if half == "bfloat16" else "fp16"
    if model_bytes is None or not bitsandbytes_installed():
        return Precision(label, half, why=f"CUDA GPU: {label}")
    free, _total = torch.cuda.mem_get_info()
    if model_bytes <= _GPU_SHARE_BEFORE_QUANTIZING * free:
        return Precision(label, half, why=f"CUDA GPU with room for {label} weights")
    if model_bytes / 2 <= _GPU_SHARE_BEFORE_QUANTIZING * free:
        return Precision("int8", half, "bnb-int8", why="CUDA GPU short of memory: int8 weights")
    return Precision("int4", half, "bnb-nf4", why="CUDA GPU short of memory: 4-bit (nf4) weights")


def _need_bitsandbytes(name: str) -> None:
    if not bitsandbytes_installed():
        raise UsageError(
            f"precision {name} on CUDA needs bitsandbytes: pip install bitsandbytes (or use --precision bf16)"
        )


def one_thread_for_small_maths() -> None:
    """Have numpy's BLAS (OpenBLAS) use one thread in this process; call before numpy is imported.

    Why: a search multiplies small matrices (a few query tokens through the sentence encoder, one
    vector against the centroids). OpenBLAS threads wait for each other by spinning, and on a
    machine whose cores are busy that made twelve one-line queries take 17 s instead of 0.6 s
    (measured on 2 shared cores); on idle cores one thread loses nothing at these sizes. Only
    OpenBLAS's own variable is set, so torch (which threads through OpenMP) keeps its threads for
    the models that need them. A value the user set is left alone; child processes inherit it.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
