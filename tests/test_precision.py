"""Precision choice per device and CPU (mocked flags), and int8 weights against full precision."""

from __future__ import annotations

import numpy as np
import pytest
from tinymodel import lowest_agreement

from vidsearch.embed import device
from vidsearch.errors import UsageError
from vidsearch.types import Frame, Segment

torch = pytest.importorskip("torch")

AMX_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile amx_int8\n"
PLAIN_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
HAS_CUDA = torch.cuda.is_available()
GIB = 1 << 30


@pytest.fixture
def cpu_flags(tmp_path, monkeypatch):
    def use(text: str) -> None:
        fake = tmp_path / "cpuinfo"
        fake.write_text(text)
        monkeypatch.setattr(device, "CPUINFO_PATH", str(fake))
        monkeypatch.setattr(device.platform, "system", lambda: "Linux")

    return use


def test_auto_on_a_cpu_with_bf16_hardware_is_bf16(cpu_flags):
    cpu_flags(AMX_CPU)
    chosen = device.pick_precision("cpu")
    assert (chosen.name, chosen.dtype, chosen.quantize) == ("bf16", "bfloat16", None)
    assert "AMX" in chosen.why


def test_auto_on_a_plain_cpu_is_int8_weights_with_fp32_activations(cpu_flags):
    cpu_flags(PLAIN_CPU)
    chosen = device.pick_precision("cpu", "auto")
    assert (chosen.name, chosen.dtype, chosen.quantize) == ("int8", "float32", "dynamic-int8")
    assert device.pick_dtype("cpu") == "float32"


def test_auto_on_a_plain_cpu_without_a_quantized_engine_is_fp32(cpu_flags, monkeypatch):
    cpu_flags(PLAIN_CPU)
    monkeypatch.setattr(device, "cpu_int8_available", lambda: False)
    assert device.pick_precision("cpu").name == "fp32"
    with pytest.raises(UsageError, match="quantized CPU engine"):
        device.pick_precision("cpu", "int8")


def test_mps_is_fp16_and_refuses_integer_weights():
    assert device.pick_precision("mps").name == "fp16"
    assert device.pick_precision("mps", "fp32").dtype == "float32"
    with pytest.raises(UsageError, match="not available on mps"):
        device.pick_precision("mps", "int8")


def test_int4_on_the_cpu_says_it_needs_cuda():
    with pytest.raises(UsageError, match="int4 needs a CUDA GPU"):
        device.pick_precision("cpu", "int4")


def test_unknown_precision_lists_the_choices():
    with pytest.raises(UsageError) as caught:
        device.pick_precision("cpu", "int2")
    assert "int2" in str(caught.value) and "int8" in str(caught.value) and "bf16" in str(caught.value)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CUDA GPU with bf16 and ``free`` bytes of free memory, as torch would report it."""

    def use(free: int, bnb: bool = True) -> None:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a, **k: (free, 80 * GIB))
        monkeypatch.setattr(device, "bitsandbytes_installed", lambda: bnb)

    return use


def test_cuda_auto_quantizes_only_when_the_model_would_crowd_the_gpu(fake_gpu):
    fake_gpu(free=40 * GIB)
    assert device.pick_precision("cuda", model_bytes=4 * GIB).name == "bf16"
    fake_gpu(free=16 * GIB)  # 16 GiB of bf16 weights would not fit in 60% of it; 8 GiB of int8 would
    assert device.pick_precision("cuda", model_bytes=16 * GIB).quantize == "bnb-int8"
    fake_gpu(free=6 * GIB)
    assert device.pick_precision("cuda", model_bytes=16 * GIB).quantize == "bnb-nf4"
    fake_gpu(free=6 * GIB, bnb=False)
    assert device.pick_precision("cuda", model_bytes=16 * GIB).name == "bf16"


def test_cuda_integer_weights_need_bitsandbytes(fake_gpu):
    fake_gpu(free=40 * GIB, bnb=False)
    with pytest.raises(UsageError, match="pip install bitsandbytes"):
        device.pick_precision("cuda", "int4")
    fake_gpu(free=40 * GIB, bnb=True)
    assert device.pick_precision("cuda:0", "int8").quantize == "bnb-int8"


# -- the tiny model in int8 against fp32 --------------------------------------------------------


def clip(seed: int, n: int = 8) -> Segment:
    rng = np.random.default_rng(seed)
    frames = tuple(Frame(i * 0.5, rng.integers(0, 256, (48, 64, 3), np.uint8)) for i in range(n))
    return Segment(0.0, n * 0.5, frames)


@pytest.fixture(scope="module")
def fp32(tiny_qwen_dir):
    pytest.importorskip("transformers")
    from vidsearch.embed import qwen3vl

    emb = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", frame_side=32)
    yield emb
    emb.close()


@pytest.mark.skipif(not device.cpu_int8_available(), reason="this torch has no quantized CPU engine")
@pytest.mark.parametrize("bf16_hardware", [False, True])
def test_int8_dynamic_embeddings_agree_with_fp32(tiny_qwen_dir, fp32, bf16_hardware, monkeypatch):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    from vidsearch.embed import qwen3vl

    monkeypatch.setattr(qwen3vl, "cpu_supports_bf16", lambda: bf16_hardware)
    int8 = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="int8", frame_side=32)
    try:
        text = list(int8._model.language_model.modules())
        assert not any(type(m) is torch.nn.Linear for m in text)
        assert any(isinstance(m, DynamicLinear) for m in text)
        # with bf16 hardware the vision tower stays bf16 (faster there); without, it is int8 too
        vision = list(int8._model.visual.modules())
        assert any(type(m) is torch.nn.Linear for m in vision) == bf16_hardware
        vision_dtype = next(int8._model.visual.parameters()).dtype
        assert vision_dtype == (torch.bfloat16 if bf16_hardware else torch.float32)
        # the token table stays in bf16 (half the memory) but hands out fp32 rows
        assert int8._model.get_input_embeddings().weight.dtype == torch.bfloat16
        assert int8.precision.name == "int8" and int8.model_id == fp32.model_id
        moments = [clip(1), clip(2), clip(3, n=4)]
        texts = ["a dog jumps into a lake", "cooking pasta in a kitchen at night"]
        assert lowest_agreement(int8, fp32, moments, texts) > 0.98
    finally:
        int8.close()


@pytest.mark.skipif(not device.cpu_int8_available(), reason="this torch has no quantized CPU engine")
@pytest.mark.parametrize("bf16_hardware", [False, True])
def test_int8_streamed_load_matches_quantizing_a_loaded_model(deep_qwen_dir, bf16_hardware, monkeypatch):
    """Reading and quantizing Linear by Linear gives the vectors of quantizing the whole loaded model."""
    from vidsearch.embed import qwen3vl

    monkeypatch.setattr(qwen3vl, "cpu_supports_bf16", lambda: bf16_hardware)
    read: list[int] = []
    real_read = qwen3vl._read_tensor
    monkeypatch.setattr(qwen3vl, "_read_tensor", lambda entry, *a: (read.append(entry[3]), real_read(entry, *a)))
    streamed = qwen3vl.load(str(deep_qwen_dir), device="cpu", precision="int8", frame_side=32, exit_layer=4)
    # deep_qwen_dir was saved from the ...ForConditionalGeneration class ("model." names, an lm_head)
    stored = qwen3vl._safetensors_index(sorted(deep_qwen_dir.glob("*.safetensors")))
    later = {e[3] for k, e in stored.items() if any(f"layers.{i}." in k for i in (4, 5)) or "lm_head" in k}
    assert read and not later & set(read), "layers after the exit (or the unused lm_head) were read"
    monkeypatch.setattr(qwen3vl, "load_int8_streamed", lambda *a, **k: None)  # the from_pretrained path
    loaded = qwen3vl.load(str(deep_qwen_dir), device="cpu", precision="int8", frame_side=32, exit_layer=4)
    try:
        assert streamed.depth == loaded.depth == 4 and streamed.model_id == loaded.model_id
        moments, texts = [clip(1), clip(2), clip(3, n=4)], ["a dog jumps into a lake", "pasta at night"]
        np.testing.assert_allclose(streamed.embed_moments(moments)[0], loaded.embed_moments(moments)[0], atol=1e-5)
        np.testing.assert_allclose(streamed.embed_queries(texts), loaded.embed_queries(texts), atol=1e-5)
    finally:
        streamed.close()
        loaded.close()


def test_int8_engine_is_onednn_only_on_amx_int8_cpus(cpu_flags):
    cpu_flags(AMX_CPU)
    expected = "onednn" if "onednn" in torch.backends.quantized.supported_engines else None
    assert device.int8_cpu_engine() == expected
    cpu_flags(PLAIN_CPU)
    assert device.int8_cpu_engine() is None


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_cuda_bitsandbytes_weights_agree_with_fp32(tiny_qwen_dir, fp32, precision):
    pytest.importorskip("bitsandbytes", reason="CUDA int8/int4 needs bitsandbytes")
    from vidsearch.embed import qwen3vl

    gpu = qwen3vl.load(str(tiny_qwen_dir), device="cuda", precision=precision, frame_side=32)
    try:
        assert gpu.precision.quantize in ("bnb-int8", "bnb-nf4")
        moments = [clip(1), clip(2)]
        cosines = np.sum(gpu.embed_moments(moments)[0] * fp32.embed_moments(moments)[0], axis=1)
        assert cosines.min() > 0.95, cosines
    finally:
        gpu.close()
