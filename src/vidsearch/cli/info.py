"""`vidsearch status` and `vidsearch models`: what the index holds, which models exist here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from vidsearch.cli.common import open_store
from vidsearch.cli.options import DbOption, DeviceOption


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def status(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Where the index lives, its roots, counts, model and size on disk."""
    import json

    from vidsearch.present import display_path

    with open_store(db, create=False) as store:
        info = store.info()
    per_moment = info.size_bytes / info.moments if info.moments else 0.0
    if json_out:
        record = {
            "index": str(info.path),
            "schema_version": info.schema_version,
            "model": info.model,
            "model_id": info.model_id,
            "dim": info.dim,
            "roots": [{"path": p, "online": online} for p, online in info.roots],
            "videos": info.videos,
            "failed": info.failed,
            "moments": info.moments,
            "hours_indexed": round(info.seconds_indexed / 3600, 3),
            "size_bytes": info.size_bytes,
            "bytes_per_moment": round(per_moment, 1),
            "embed_seconds": round(info.embed_seconds, 3),
            "mean_frames_per_moment": round(info.mean_frames, 2),
        }
        print(json.dumps(record, ensure_ascii=False))
        return
    lines = [
        f"index:    {info.path} (schema {info.schema_version})",
        f"model:    {info.model or 'none yet'}" + (f" ({info.model_id}, {info.dim}-d)" if info.model_id else ""),
        f"videos:   {info.videos} indexed, {info.failed} skipped as unreadable",
        f"moments:  {info.moments} covering {info.seconds_indexed / 3600:.2f} h of video",
        f"size:     {_size(info.size_bytes)} ({per_moment / 1024:.1f} KiB per moment)" if info.moments
        else f"size:     {_size(info.size_bytes)}",
        f"cost:     {info.embed_seconds:.1f} s embedding, {info.mean_frames:.1f} frames per moment on average",
        "roots:" if info.roots else "roots:    none (vidsearch index PATH adds one)",
    ]
    lines += [f"  {display_path(p)}" + ("" if online else "  (offline)") for p, online in info.roots]
    sys.stdout.write("\n".join(lines) + "\n")


def models(device: DeviceOption = "auto") -> None:
    """The known models: kind, size, whether usable here now, and which one auto picks."""
    from vidsearch.embed.device import pick_device
    from vidsearch.embed.registry import KNOWN_MODELS, choose_auto, usable_here

    dev = pick_device(device)
    auto, why = choose_auto(dev)
    for spec in KNOWN_MODELS:
        ok, reason = usable_here(spec, dev)
        mark = "*" if spec.name == auto else " "
        names = spec.name + (f" (aliases: {', '.join(spec.aliases)})" if spec.aliases else "")
        sys.stdout.write(
            f"{mark} {names}\n    {spec.kind}\n    size: {spec.size}; needs: {spec.needs}\n"
            f"    here ({dev}): {'usable' if ok else 'not usable'}: {reason}\n"
        )
    sys.stdout.write(f"* = what --model auto picks here: {why}\n")
