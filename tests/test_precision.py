"""Precision choice per device and CPU (mocked flags), and int8 weights against full precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tinymodel import lowest_agreement

from vidsearch import device
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


ONEDNN = device.onednn_int8_usable()


@pytest.fixture
def torch_ao_int8(monkeypatch):
    """Make --precision int8 take torch.ao dynamic quantization, as on CPUs without AMX int8."""
    monkeypatch.setattr(device, "onednn_int8_usable", lambda *a: False)


@pytest.mark.slow
@pytest.mark.skipif(not device.cpu_int8_available(), reason="this torch has no quantized CPU engine")
@pytest.mark.parametrize("bf16_hardware", [False, True])
def test_int8_dynamic_embeddings_agree_with_fp32(tiny_qwen_dir, fp32, bf16_hardware, torch_ao_int8, monkeypatch):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    from vidsearch.embed import qwen3vl, qwen_load

    monkeypatch.setattr(qwen_load, "cpu_supports_bf16", lambda: bf16_hardware)
    int8 = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="int8", frame_side=32)
    try:
        assert int8.precision.quantize == "dynamic-int8"
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
        assert agreement_with(fp32, int8) > 0.98
    finally:
        int8.close()


def agreement_with(fp32, other) -> float:
    """The lowest cosine between ``other``'s and the fp32 model's vectors for a few moments and queries."""
    moments = [clip(1), clip(2), clip(3, n=4)]
    texts = ["a dog jumps into a lake", "cooking pasta in a kitchen at night"]
    return lowest_agreement(other, fp32, moments, texts)


@pytest.mark.skipif(not ONEDNN, reason="needs a CPU with AMX int8 and a torch built with oneDNN's int8 matmul")
def test_onednn_int8_embeddings_agree_with_fp32(tiny_qwen_dir, fp32):
    from vidsearch.embed import qwen3vl
    from vidsearch.embed.int8 import OnednnInt8Linear

    int8 = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="int8", frame_side=32)
    try:
        assert (int8.precision.name, int8.precision.quantize) == ("int8", "onednn-int8")
        modules = list(int8._model.modules())
        assert not any(type(m) is torch.nn.Linear for m in modules)  # the vision tower is int8 as well
        assert sum(isinstance(m, OnednnInt8Linear) for m in int8._model.visual.modules()) > 4
        assert sum(isinstance(m, OnednnInt8Linear) for m in modules) > 10
        assert next(int8._model.visual.parameters()).dtype == torch.bfloat16  # activations stay bf16
        assert agreement_with(fp32, int8) > 0.98
    finally:
        int8.close()


@pytest.mark.skipif(not ONEDNN, reason="needs a CPU with AMX int8 and a torch built with oneDNN's int8 matmul")
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("rows", [7, 90])  # 21 rows: the int8 matmul; 270 (more than 200 outputs): widened
def test_onednn_int8_linear_matches_the_float_layer(dtype, rows):
    from vidsearch.embed.int8 import OnednnInt8Linear

    torch.manual_seed(0)
    layer = torch.nn.Linear(96, 200)
    int8 = OnednnInt8Linear.from_linear(layer)
    x = torch.randn(3, rows, 96).to(getattr(torch, dtype))
    given = x.clone()
    widened, plain = [], int8._widened
    int8._widened = lambda r: widened.append(r.shape[0]) or plain(r)
    got, want = int8(x), layer(x.float())
    assert widened == ([] if 3 * rows <= 200 else [3 * rows])  # the path the rows call for
    assert torch.equal(x, given)  # the caller's activations are left as they were
    assert got.shape == (3, rows, 200) and got.dtype == x.dtype
    cosine = torch.nn.functional.cosine_similarity(got.float().flatten(), want.flatten(), dim=0)
    assert cosine > 0.999
    assert int8(x[:, :0]).shape == (3, 0, 200)  # no rows: no kernel call, the right shape


@pytest.mark.skipif(not ONEDNN, reason="needs a CPU with AMX int8 and a torch built with oneDNN's int8 matmul")
def test_layers_of_one_shape_share_scratch_but_not_weights():
    from vidsearch.embed.int8 import OnednnInt8Linear

    torch.manual_seed(1)
    layers = [torch.nn.Linear(64, 24) for _ in range(3)]  # a shape no other test uses
    int8 = [OnednnInt8Linear.from_linear(layer) for layer in layers]
    x = torch.randn(100, 64).to(torch.bfloat16)  # 100 rows > 24 outputs: widened weights, one scratch
    for inference in (True, False):  # the scratch made under inference mode serves plain calls too
        for layer, quantized in zip(layers, int8, strict=True):
            with torch.inference_mode(inference):
                got = quantized(x).float()
            want = layer(x.float()).detach()
            assert torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0) > 0.999


@pytest.mark.skipif(not ONEDNN, reason="needs a CPU with AMX int8 and a torch built with oneDNN's int8 matmul")
def test_layers_fed_one_tensor_share_its_quantization_and_only_that_tensor(monkeypatch):
    from vidsearch.embed import int8 as int8_module
    from vidsearch.embed.int8 import OnednnInt8Linear

    torch.manual_seed(2)
    layers = [torch.nn.Linear(64, 96) for _ in range(3)]  # q, k, v fed the same hidden states
    int8 = [OnednnInt8Linear.from_linear(layer) for layer in layers]
    scans, aminmax = [], torch.aminmax
    monkeypatch.setattr(torch, "aminmax", lambda t: scans.append(t.shape) or aminmax(t))  # one per quantization
    for _ in range(3):
        x = torch.randn(5, 64).to(torch.bfloat16)  # a new tensor each time, same shape
        for layer, q in zip(layers, int8, strict=True):
            got, want = q(x).float(), layer(x.float())
            assert torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0) > 0.999
        del x  # its memory may come back at the same address for the next one
    assert len(scans) == 3  # once per tensor, not once per layer
    assert int8_module._SCRATCH.last[0]() is None  # the remembered input is not kept alive


@pytest.mark.skipif(not ONEDNN, reason="needs a CPU with AMX int8 and a torch built with oneDNN's int8 matmul")
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the resident memory from /proc (Linux)")
def test_onednn_int8_linear_keeps_one_byte_per_weight():
    """The point of the module: int8 takes half of bf16's memory (torch.ao's onednn layer kept two copies)."""
    import gc

    from vidsearch.embed.int8 import OnednnInt8Linear
    from vidsearch.embed.weights import give_back_freed_memory

    def resident() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))

    side, count = 2048, 10
    kept = [OnednnInt8Linear.from_linear(torch.nn.Linear(64, 64, bias=False))]  # kernels set up first
    before = resident()
    for _ in range(count):
        layer = torch.nn.Linear(side, side, bias=False).to(torch.bfloat16)
        kept.append(OnednnInt8Linear.from_linear(layer))
        del layer
        gc.collect()
        give_back_freed_memory()
    grown = resident() - before
    assert grown < 1.4 * count * side * side, f"{grown / count / side / side:.2f} bytes per weight"
    assert kept[-1](torch.randn(4, side, dtype=torch.bfloat16)).shape == (4, side)


def test_int8_on_an_amx_cpu_uses_onednn_else_torch_ao(cpu_flags, monkeypatch):
    from vidsearch.embed import int8

    cpu_flags(AMX_CPU)
    monkeypatch.setattr(device, "int8_cpu_engine", lambda *a: "onednn")
    monkeypatch.setattr(int8, "onednn_int8_available", lambda: True)
    chosen = device.pick_precision("cpu", "int8")
    assert (chosen.dtype, chosen.quantize) == ("bfloat16", "onednn-int8")
    assert device.pick_precision("cpu").name == "bf16"  # auto stays bf16 on AMX (the choice)
    monkeypatch.setattr(int8, "onednn_int8_available", lambda: False)  # torch without oneDNN's ops
    assert device.pick_precision("cpu", "int8").quantize == "dynamic-int8"
    cpu_flags(PLAIN_CPU)
    monkeypatch.setattr(device, "int8_cpu_engine", lambda *a: None)
    assert device.pick_precision("cpu", "int8").quantize == "dynamic-int8"


def _mapped_ranges(path) -> list[tuple[int, int]]:
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith(str(path)):
                low, high = line.split()[0].split("-")
                ranges.append((int(low, 16), int(high, 16)))
    return ranges


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc/self/maps (Linux)")
@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_streamed_load_maps_the_token_table_and_matches_from_pretrained(tiny_qwen_dir, precision, monkeypatch):
    """The token table stays in the checkpoint file (mapped, read on use); vectors are unchanged."""
    from safetensors.torch import load_file, save_file

    from vidsearch.embed import qwen3vl, qwen_load

    if precision == "int8" and not device.cpu_int8_available():
        pytest.skip("this torch has no quantized CPU engine")
    # a bf16 checkpoint, as the real models ship, so the table can be mapped as stored
    folder = tiny_qwen_dir.parent / f"{tiny_qwen_dir.name}-bf16"
    if not folder.is_dir():
        import shutil

        shutil.copytree(tiny_qwen_dir, folder)
        for path in folder.glob("*.safetensors"):
            save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v
                       for k, v in load_file(path).items()}, path)  # fmt: skip
    streamed = qwen3vl.load(str(folder), device="cpu", precision=precision, frame_side=32)
    monkeypatch.setattr(qwen_load, "load_streamed", lambda *a, **k: None)
    loaded = qwen3vl.load(str(folder), device="cpu", precision=precision, frame_side=32)
    try:
        table = streamed._model.get_input_embeddings().weight
        files = [p.resolve() for p in folder.glob("*.safetensors")]
        spans = [r for p in files for r in _mapped_ranges(p)]
        assert any(low <= table.data_ptr() < high for low, high in spans), "the token table was copied"
        moments, texts = [clip(1), clip(2, n=4)], ["a dog jumps into a lake", "pasta at night"]
        assert lowest_agreement(streamed, loaded, moments, texts) > 0.9999
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
