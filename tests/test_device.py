"""Device and precision choice (vidsearch.device)."""

from __future__ import annotations

import pytest

from vidsearch import device
from vidsearch.errors import UsageError

torch = pytest.importorskip("torch")

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = torch.backends.mps.is_available()

AMX_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile amx_int8\n\n"
AVX512_BF16_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\n"
PLAIN_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n\n"


@pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="this machine has a GPU")
def test_auto_picks_cpu_without_a_gpu():
    assert device.pick_device("auto") == "cpu"
    assert device.pick_device() == "cpu"


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_auto_picks_cuda_when_there_is_one():
    assert device.pick_device("auto") == "cuda"
    assert device.pick_device("cuda:0") == "cuda:0"


def test_cpu_is_always_available():
    assert device.pick_device("cpu") == "cpu"
    assert device.pick_device(" CPU ") == "cpu"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA device")
def test_asking_for_cuda_without_one_says_so():
    for asked in ("cuda", "cuda:1"):
        with pytest.raises(UsageError) as caught:
            device.pick_device(asked)
        message = str(caught.value)
        assert asked in message and "not available" in message and "--device" in message


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_asking_for_a_cuda_index_past_the_last_says_how_many():
    with pytest.raises(UsageError, match="CUDA device"):
        device.pick_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.skipif(HAS_MPS, reason="this machine has MPS")
def test_asking_for_mps_without_it_says_so():
    with pytest.raises(UsageError, match="mps"):
        device.pick_device("mps")


def test_unknown_device_is_refused():
    with pytest.raises(UsageError, match="tpu"):
        device.pick_device("tpu")


def test_cpu_bf16_needs_amx_or_avx512_bf16():
    assert device.cpu_supports_bf16(AMX_CPU)
    assert device.cpu_supports_bf16(AVX512_BF16_CPU)
    assert not device.cpu_supports_bf16(PLAIN_CPU)
    assert not device.cpu_supports_bf16("")


@pytest.mark.parametrize(("cpuinfo", "expected"), [(AMX_CPU, "bfloat16"), (PLAIN_CPU, "float32")])
def test_auto_precision_on_cpu_follows_the_cpu_flags(cpuinfo, expected, tmp_path, monkeypatch):
    fake = tmp_path / "cpuinfo"
    fake.write_text(cpuinfo)
    monkeypatch.setattr(device, "CPUINFO_PATH", str(fake))
    monkeypatch.setattr(device.platform, "system", lambda: "Linux")
    assert device.pick_dtype("cpu") == expected
    assert device.pick_dtype("cpu", "auto") == expected


def test_unreadable_cpuinfo_means_fp32(tmp_path, monkeypatch):
    monkeypatch.setattr(device, "CPUINFO_PATH", str(tmp_path / "missing"))
    assert device.pick_dtype("cpu") == "float32"


def test_macos_cpu_gets_fp32_and_mps_fp16(monkeypatch):
    monkeypatch.setattr(device.platform, "system", lambda: "Darwin")
    assert device.pick_dtype("cpu") == "float32"
    assert device.pick_dtype("mps") == "float16"


def test_explicit_precision_wins():
    assert device.pick_dtype("cpu", "fp16") == "float16"
    assert device.pick_dtype("cpu", "BF16") == "bfloat16"
    assert device.pick_dtype("mps", "fp32") == "float32"
    assert getattr(torch, device.pick_dtype("cpu", "fp32")) is torch.float32


def test_unknown_precision_is_refused():
    with pytest.raises(UsageError, match="int3"):
        device.pick_dtype("cpu", "int3")


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_auto_precision_is_half():
    expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    assert device.pick_dtype("cuda") == expected
