"""What embedding a mixed library costs with Qwen3-VL at real size, per technique.

Builds a model of the Qwen3-VL-Embedding-2B shape (28 layers, 2048-d, 24-block vision tower;
2.13 B parameters) with random weights (nothing is downloaded: speed and memory do not depend on
the weight values), saves it once under ``--workdir``, and generates a small mixed library of four
kinds of video (static, talking head, busy panning motion, text slides). Each video is decoded and
segmented like ``vidsearch index`` does. Then, one child process per variant (so peak memory is
clean), it loads the model through ``vidsearch.embed.qwen3vl.load`` and embeds ``--moments``
moments of each kind: one warm-up pass, then ``--repeats`` timed passes, each moment keeping its
fastest time (fp32: one timed pass, it is slow):

  baseline   faithful and fixed: 8 frames per moment, each at the reference preprocessing's size
             (``vidsearch.embed.qwen_frames``: 352x640 for these 640x360 videos), full depth, bf16
             (fp32 where the CPU has no bf16 hardware; ``--baseline-precision`` overrides), loaded
             by transformers' ``from_pretrained`` (the other variants read the checkpoint tensor by
             tensor and map the token table from the file: ``weights.load_streamed``)
  faithful   vidsearch's default: the reference's frame count per moment (1 per second) and size;
             still or slowly changing moments get fewer frames, a still moment showing the picture
             of the one before shares its vector (vidsearch.embed.budget)
  exit       the baseline with a layer exit at ``--exit-layer`` (default 14 of 28; opt-in)
  int8       the baseline with int8 weights (oneDNN int8 matmuls on AMX CPUs, else torch.ao dynamic
             quantization; opt-in on CPUs with bf16 hardware)
  faithful+exit, faithful+exit+int8: the default budget with the opt-in techniques
  fast       the opt-in ``fast`` budget: also frames below the model's minimum size (at most 256 px)
  fast+exit+int8
  fp32       the baseline in fp32 (not run unless named in ``--variants``: what a CPU without bf16
             hardware would start from)

Memory is the process's peak RSS (VmHWM, including loading) and its RSS after embedding (what
indexing holds for hours).

Seconds per hour of library are extrapolated from the measured seconds per moment and the number of
moments the segmenter makes per hour of each kind; the library is one quarter of each kind. All
ratios come from the same run (the machine may be shared; absolute seconds vary, ratios less so).

    .venv/bin/python benchmarks/embed_cost.py [--moments 4] [--json out.json] [--device cuda]

On a GPU (``--device cuda``) the same variants run there (int8 through bitsandbytes); the report adds
each variant's peak GPU memory, and wall seconds are the ones to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # videogen (test videos) and tinymodel (an offline tokenizer)

KINDS = ("static", "talking", "busy", "text")
# Measured and reported on their own, not part of the per-hour mix: a slow dissolve between two pictures
# (each 10 s moment fades from one to the other), where frame-to-frame signals see almost nothing but
# the moment ends elsewhere: the case the budget's visual-drift check exists for.
EXTRA_KINDS = ("dissolve",)
SECONDS_PER_VIDEO = 40.0  # 4 moments of 10 s per kind: one full batch (batch_size 4)
# "fixed": the baseline's frame count on every moment; the others take the budget setting's own
FIXED = {"budget": "full", "fixed": True}
VARIANTS = {
    # the baseline loads as transformers does (from_pretrained): whole token table in RAM
    "baseline": {**FIXED, "exit": False, "int8": False, "from_pretrained": True},
    "faithful": {"budget": "faithful", "exit": False, "int8": False},
    "exit": {**FIXED, "exit": True, "int8": False},
    "int8": {**FIXED, "exit": False, "int8": True},
    "faithful+exit": {"budget": "faithful", "exit": True, "int8": False},
    "faithful+exit+int8": {"budget": "faithful", "exit": True, "int8": True},
    "fast": {"budget": "fast", "exit": False, "int8": False},
    "fast+exit+int8": {"budget": "fast", "exit": True, "int8": True},
    "fp32": {**FIXED, "exit": False, "int8": False, "precision": "fp32"},  # for reference
}
DEFAULT_VARIANTS = [name for name in VARIANTS if name != "fp32"]


# -- the model ---------------------------------------------------------------------------------


def build_model(folder: Path) -> Path:
    """Write a random-weight Qwen3-VL of the 2B-embedding shape (bf16 safetensors + processor)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from tinymodel import CHAT_TEMPLATE, _train_tokenizer
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3VLConfig,
        Qwen3VLModel,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    tokenizer = _train_tokenizer()  # ids < 400; enough to drive the real processor and prompts
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>")}
    ids |= {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|vision_end|>")}
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28,
            "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
            "max_position_embeddings": 262144, "tie_word_embeddings": True,
            "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000.0,
                                "mrope_section": [24, 20, 20], "mrope_interleaved": True},
        },
        vision_config={
            "depth": 24, "hidden_size": 1024, "intermediate_size": 4096, "num_heads": 16, "patch_size": 16,
            "temporal_patch_size": 2, "spatial_merge_size": 2, "out_hidden_size": 2048,
            "num_position_embeddings": 2304, "deepstack_visual_indexes": [5, 11, 17],
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )  # fmt: skip
    began = time.perf_counter()
    torch.manual_seed(0)
    model = Qwen3VLModel._from_config(config, dtype=torch.bfloat16).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=16, temporal_patch_size=2, merge_size=2),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(do_sample_frames=False),  # real Qwen3-VL defaults otherwise
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    log(f"built the random 2B-shape model in {time.perf_counter() - began:.0f} s -> {folder}")
    return folder


# -- the library -------------------------------------------------------------------------------


def talking_head():
    """A still background and head; the mouth opens and closes and the head sways a little."""

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        y, x = np.mgrid[0:h, 0:w]
        img = np.empty((h, w, 3), np.uint8)
        img[:] = (60, 70, 90)
        img[..., 0] = (60 + 40 * x / w).astype(np.uint8)  # a soft background gradient
        cx, cy, r = w / 2 + w / 40 * np.sin(t * 2), h / 2, h / 4
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = (200, 160, 130)
        mouth = int(r / 6 * (1 + np.sin(t * 12)))
        my, mx = int(cy + r / 2), int(cx)
        img[my - mouth : my + mouth + 1, mx - int(r / 3) : mx + int(r / 3)] = (90, 30, 30)
        return img

    return paint


def panning_texture(seed: int = 0):
    """A camera panning over a detailed scene: blocks of colour and fine texture, moving fast."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (24, 48, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
    grain = rng.integers(-40, 40, blocks.shape, dtype=np.int16)
    scene = np.clip(blocks.astype(np.int16) + grain, 0, 255).astype(np.uint8)

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        shifted = np.roll(scene, (int(t * 20), int(t * 90)), axis=(0, 1))
        return np.ascontiguousarray(shifted[:h, :w])

    return paint


def dissolve():
    """Every 10 s one picture of coloured blocks dissolves into another of larger blocks, and back."""
    rng = np.random.default_rng(1)
    first = rng.integers(100, 160, (12, 20, 3), dtype=np.uint8).repeat(30, 0).repeat(32, 1)
    second = rng.integers(100, 160, (6, 10, 3), dtype=np.uint8).repeat(60, 0).repeat(64, 1)

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        mix = (t % 10) / 10
        mix = mix if int(t // 10) % 2 == 0 else 1 - mix
        return (first[:h, :w] * (1 - mix) + second[:h, :w] * mix).astype(np.uint8)

    return paint


def make_library(folder: Path) -> dict[str, Path]:
    import videogen as vg

    painters = {
        "static": vg.image(np.tile(np.linspace(30, 200, 640, dtype=np.uint8)[None, :, None], (360, 1, 3))),
        "talking": talking_head(),
        "busy": panning_texture(),
        "text": vg.title_card("Q3 REVENUE UP 12% - SEE TABLE"),
        "dissolve": dissolve(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind, painter in painters.items():
        path = folder / f"{kind}.mp4"
        if not path.is_file():
            vg.write_video(path, [vg.Scene(painter, SECONDS_PER_VIDEO)], fps=10, size=(640, 360))
        out[kind] = path
    return out


def moments_of(path: Path, frame_side: int):
    from vidsearch.media import decode
    from vidsearch.media.frames import sample_interval
    from vidsearch.media.segment import segment_frames

    info = decode.probe(path)
    frames = decode.iter_frames(path, sample_interval(info.duration), frame_side, info)
    return segment_frames(frames, info.duration), info.duration


# -- one variant, in a child process ------------------------------------------------------------


def run_variant(args: argparse.Namespace) -> None:
    import torch

    from vidsearch.embed import qwen3vl, qwen_load

    torch.set_num_threads(args.threads)
    settings = VARIANTS[args.variant]
    if settings.get("from_pretrained"):
        qwen_load.load_streamed = lambda *a, **k: None  # type: ignore[assignment]  # the loader falls back
    began = time.perf_counter()
    embedder = qwen3vl.load(
        str(args.model_dir),
        device=args.device,
        precision="int8" if settings["int8"] else settings.get("precision", args.baseline_precision),
        budget=settings["budget"],
        frames_per_moment=args.frames if settings.get("fixed") else None,
        exit_layer=args.exit_layer if settings["exit"] else None,
    )
    load_seconds = time.perf_counter() - began
    library = make_library(args.workdir / "library")
    per_kind = {kind: moments_of(path, embedder.frame_side) for kind, path in library.items()}
    # Each kind's moments are embedded together (one batch). The first pass sets up kernels for each
    # batch shape and is not counted; of the timed passes each kind keeps its fastest, since other work
    # on a shared machine only ever adds time. Both wall seconds and this process's CPU seconds are
    # kept: CPU seconds hardly change when other processes compete for the cores.
    repeats = 1 if settings.get("precision") == "fp32" else args.repeats
    kinds, costs, budgets, cpu, sizes = [], [], [], {}, {}
    for n, kind in enumerate(KINDS + (() if args.no_extra else EXTRA_KINDS)):
        chosen = per_kind[kind][0][: args.moments]
        if args.warmup == "all" or n == 0:
            embedder.embed_moments(chosen)
        best: tuple[float, float, list] | None = None
        for _ in range(repeats):
            began_cpu, began = time.process_time(), time.perf_counter()
            _, seen = embedder.embed_moments(chosen)
            took = (time.process_time() - began_cpu, time.perf_counter() - began, seen)
            best = took if best is None or took[1] < best[1] else best
        assert best is not None
        cpu[kind] = best[0] / len(chosen)
        sizes[kind] = "x".join(map(str, embedder._clip(chosen[0], embedder.full_budget(chosen[0]))[0].shape[1:3]))
        kinds += [kind] * len(chosen)
        costs += best[2]
        budgets += embedder.last_budgets
    rss = memory()
    gpu_peak = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else None
    result = {
        "variant": args.variant,
        "precision": embedder.precision.name,
        "model_id": embedder.model_id,
        "load_seconds": round(load_seconds, 1),
        "cpu_seconds_per_moment": cpu,
        "peak_rss_gib": rss["VmHWM"],
        "rss_after_gib": rss["VmRSS"],
        "gpu_peak_gib": None if gpu_peak is None else round(gpu_peak, 2),
        "moments": [
            {
                "kind": kind,
                "seconds": round(cost.seconds, 3),
                "frames": cost.frames,
                "visual_tokens": cost.visual_tokens,
                "exit_layer": cost.exit_layer,
                "budget": f"{budget.describe()}: {budget.reason}",
            }
            for kind, cost, budget in zip(kinds, costs, budgets, strict=True)
        ],
        "moments_per_hour": {k: len(per_kind[k][0]) / per_kind[k][1] * 3600 for k in KINDS},
        "full_frame_size": sizes,
    }
    embedder.close()
    print(json.dumps(result), flush=True)


def memory() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = round(int(value.split()[0]) / 1024 / 1024, 2)
    return out


# -- the report --------------------------------------------------------------------------------


def summarise(result: dict) -> dict:
    per_kind = {}
    for kind in KINDS:
        rows = [m for m in result["moments"] if m["kind"] == kind]
        per_kind[kind] = {
            "seconds": float(np.mean([m["seconds"] for m in rows])),
            "cpu_seconds": float(result["cpu_seconds_per_moment"][kind]),
            "visual_tokens": float(np.mean([m["visual_tokens"] for m in rows])),
            "frames": float(np.mean([m["frames"] for m in rows])),
        }
    # a library of equal parts of each kind: per hour = mean over kinds of (moments/h x s/moment)
    per_hour = float(
        np.mean([result["moments_per_hour"][k] * per_kind[k]["seconds"] for k in KINDS])
    )
    cpu_per_hour = float(
        np.mean([result["moments_per_hour"][k] * per_kind[k]["cpu_seconds"] for k in KINDS])
    )
    tokens_per_hour = float(
        np.mean([result["moments_per_hour"][k] * per_kind[k]["visual_tokens"] for k in KINDS])
    )
    return {
        "per_kind": per_kind,
        "seconds_per_hour": per_hour,
        "cpu_seconds_per_hour": cpu_per_hour,
        "visual_tokens_per_hour": tokens_per_hour,
    }


def report(results: dict[str, dict], args: argparse.Namespace) -> str:
    first = results.get("baseline") or next(iter(results.values()))  # ratios against the baseline
    base = summarise(first)
    lines = [
        f"Qwen3-VL 2B shape, random weights, {args.device}, {args.threads} CPU threads; "
        f"{args.moments} moment(s) per kind timed; per hour extrapolated from s/moment x moments/hour (equal parts of "
        f"{', '.join(KINDS)}). Baseline: {args.frames} frames at the reference's size "
        f"({first.get('full_frame_size', {}).get('busy', '?')}), full depth, "
        f"{first['precision']}. Seconds: best of {args.repeats} passes after a warm-up pass "
        f"({'before each kind' if args.warmup == 'all' else 'before the first kind only'}).",
        "",
        "per kind: CPU seconds per moment (this process, all threads); per hour: CPU s and wall s",
        f"{'variant':<12} {'prec':<5} " + " ".join(f"{k + ' cpu':>9}" for k in KINDS)
        + f" {'cpu/hour':>8} {'x less':>6} {'wall/h':>7} {'x less':>6} {'tok/hour':>9}"
        f" {'peak GiB':>8} {'x less':>6} {'RSS GiB':>7} {'x less':>6}",
    ]
    for name, result in results.items():
        summary = summarise(result)
        speedup = base["seconds_per_hour"] / summary["seconds_per_hour"]
        cpu_speedup = base["cpu_seconds_per_hour"] / summary["cpu_seconds_per_hour"]
        memory_ratio = first["peak_rss_gib"] / result["peak_rss_gib"]
        rss_ratio = first["rss_after_gib"] / result["rss_after_gib"]
        lines.append(
            f"{name:<12} {result['precision']:<5} "
            + " ".join(f"{summary['per_kind'][k]['cpu_seconds']:>9.3f}" for k in KINDS)
            + f" {summary['cpu_seconds_per_hour']:>8.0f} {cpu_speedup:>6.2f}"
            f" {summary['seconds_per_hour']:>7.0f} {speedup:>6.2f}"
            f" {summary['visual_tokens_per_hour']:>9.0f}"
            f" {result['peak_rss_gib']:>8.2f} {memory_ratio:>6.2f} {result['rss_after_gib']:>7.2f} {rss_ratio:>6.2f}"
        )
    if first.get("gpu_peak_gib"):  # on a GPU its memory is the one that limits; wall seconds are the time
        lines += ["", "GPU memory (torch's peak allocation):"]
        for name, result in results.items():
            ratio = first["gpu_peak_gib"] / result["gpu_peak_gib"]
            lines.append(f"  {name:<12} {result['gpu_peak_gib']:>6.2f} GiB  {ratio:>5.2f}x less than the baseline")
    for kind in [k for k in EXTRA_KINDS if k in first["cpu_seconds_per_moment"]]:
        lines += ["", f"{kind} (not in the mix): CPU seconds per moment, frames, visual tokens"]
        for name, result in results.items():
            rows = [m for m in result["moments"] if m["kind"] == kind]
            if rows:
                cpu = result["cpu_seconds_per_moment"][kind]
                ratio = first["cpu_seconds_per_moment"][kind] / cpu
                lines.append(
                    f"  {name:<12} {cpu:>6.3f} s ({ratio:.2f}x less than the baseline), "
                    f"{np.mean([m['frames'] for m in rows]):.1f} frames, "
                    f"{np.mean([m['visual_tokens'] for m in rows]):.0f} visual tokens"
                )
    for budget in ("faithful", "fast"):
        adaptive = [r for name, r in results.items() if VARIANTS.get(name, {}).get("budget") == budget]
        if not adaptive:
            continue
        lines += ["", f"budget decisions ({budget}):"]
        seen = set()
        for m in adaptive[0]["moments"]:
            line = f"  {m['kind']:<8} {m['frames']} frames, {m['visual_tokens']} visual tokens <- {m['budget']}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vidsearch-embed-cost"))
    parser.add_argument("--moments", type=int, default=4, help="timed moments per kind of video")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes (each moment keeps its best)")
    parser.add_argument("--frames", type=int, default=8, help="the baseline's frames per moment")
    parser.add_argument("--exit-layer", type=int, default=14)
    parser.add_argument("--baseline-precision", default="auto", help="auto picks bf16 on AMX CPUs, else int8")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N to measure on a GPU")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    parser.add_argument("--json", type=Path, help="also write all measurements here")
    parser.add_argument(
        "--warmup", choices=("all", "first"), default="all",
        help="an untimed pass before each kind's timed ones (all), or before the first kind's only (first: "
        "sets up the kernels and packs the weights once; quicker on a busy machine)",
    )  # fmt: skip
    parser.add_argument("--no-extra", action="store_true", help="leave out the kinds outside the mix (dissolve)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # set in the child processes
    args = parser.parse_args()
    args.model_dir = args.workdir / "qwen3vl-2b-random"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.variant:
        run_variant(args)
        return
    if args.baseline_precision == "auto":
        from vidsearch.device import pick_precision

        # the baseline is a float model: bf16 where the CPU is fast at it, else fp32
        fast_bf16 = args.device != "cpu" or pick_precision("cpu").name == "bf16"
        args.baseline_precision = "bf16" if fast_bf16 else "fp32"
    build_model(args.model_dir)
    make_library(args.workdir / "library")
    results = {}
    for name in args.variants.split(","):
        began = time.perf_counter()
        child = [sys.executable, __file__, "--variant", name]
        # idle OpenMP threads sleep instead of spinning, so CPU seconds count work, not waiting
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        passed = ("workdir", "moments", "repeats", "frames", "exit_layer", "baseline_precision")
        passed += ("threads", "device", "warmup")
        for flag in passed:
            child += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
        child += ["--no-extra"] if args.no_extra else []
        done = subprocess.run(child, capture_output=True, text=True, env=env)
        if done.returncode:
            log(done.stderr[-3000:])
            raise SystemExit(f"variant {name} failed")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        log(f"{name}: {time.perf_counter() - began:.0f} s (load {results[name]['load_seconds']} s)")
        if args.json:  # what is measured so far survives an interrupted run
            args.json.write_text(json.dumps({"results": results, "report": report(results, args)}, indent=1))
    text = report(results, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "report": text}, indent=1))


if __name__ == "__main__":
    main()
