"""`vidsearch status` and `vidsearch models`: what the index holds, which models exist here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vidsearch.cli.common import open_library, warn
from vidsearch.cli.options import DbOption, DeviceOption, PrecisionOption

if TYPE_CHECKING:
    from vidsearch.store import FactsSummary


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def status(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    compact: Annotated[
        bool, typer.Option("--compact", help="Rebuild the search index, drop its change log, VACUUM.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check the whole file: every page and index, every moment against its checksum, the "
            "search index (status alone makes a quick check of the pages).",
        ),
    ] = False,
) -> None:
    """Where the index lives, its roots, counts, model and size on disk, and whether the file is sound.

    Exit status 7 when the index is damaged (`vidsearch index --rebuild` keeps it aside and starts anew).
    """
    from vidsearch.output.present import display_path, to_json_line
    from vidsearch.store.health import damaged

    with open_library(db, create=False) as library:
        if compact:
            before, after = library.compact()
            warn(f"compacted: {_size(before)} -> {_size(after)}")
        info = library.status()
        problems = library.check(full=check)
    health = "ok" if not problems else "damaged: " + "; ".join(problems[:3])
    depth = "full check" if check else "quick check; --check for a full one"
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
            "budgets": info.budgets,
            "budget_escalations": info.budget_escalations,
            "budget_settings": info.budget_settings,
            "search_index": info.search_index,
            "search_index_bytes": info.search_index_bytes,
            "thumbnails": info.thumbnails,
            "thumbnail_bytes": info.thumbnail_bytes,
            "thumbnail_bytes_per_moment": round(info.thumbnail_bytes / info.thumbnails, 1) if info.thumbnails else 0.0,
            "check": "full" if check else "quick",
            "problems": problems,
            "speech": {
                "moments_with_speech": info.words.moments_with_speech,
                "moments_with_screen_text": info.words.moments_with_screen_text,
                "videos_with_speech": info.words.videos_with_speech,
                "videos_with_subtitles": info.words.videos_with_subtitles,
                "hours_transcribed": round(info.words.transcribed_seconds / 3600, 4),
                "speech_errors": info.words.speech_errors,
                "pending": info.words.speech_pending,
            },
        }
        if info.when_where is not None:
            record.update(_when_where_record(info.when_where))
        print(to_json_line(record))  # roots with undecodable bytes stay valid JSON
        if problems:
            raise damaged(info.path, "; ".join(problems[:3]))
        return
    lines = [
        f"index:    {info.path} (schema {info.schema_version})",
        f"model:    {info.model or 'none yet'}" + (f" ({info.model_id}, {info.dim}-d)" if info.model_id else ""),
        f"videos:   {info.videos} indexed, {info.failed} skipped as unreadable",
        f"moments:  {info.moments} covering {info.seconds_indexed / 3600:.2f} h of video",
        f"size:     {_size(info.size_bytes)} ({per_moment / 1024:.1f} KiB per moment)" if info.moments
        else f"size:     {_size(info.size_bytes)}",
        f"search:   {info.search_index}",
        _thumbnail_line(info.thumbnails, info.thumbnail_bytes, info.moments),
        f"cost:     {info.embed_seconds:.1f} s embedding, {info.mean_frames:.1f} frames per moment on average",
    ]
    if info.budgets:
        decided = ", ".join(f"{kind} {count}" for kind, count in info.budgets.items())
        again = info.budget_escalations
        lines.append(f"budgets:  {decided}" + (f"; {again} embedded again at the full budget" if again else ""))
    named = {name: count for name, count in info.budget_settings.items() if name}
    if named:
        below = " (frames below the model's minimum size)" if "fast" in named else ""
        lines.append("settings: " + ", ".join(f"{name} {count}" for name, count in named.items()) + below)
    if info.when_where is not None:
        lines += _when_where_lines(info.when_where)
    lines.append(f"health:   {health} ({depth})")
    lines.append(_speech_line(info))
    lines.append("roots:" if info.roots else "roots:    none (vidsearch index PATH adds one)")
    lines += [f"  {display_path(p)}" + ("" if online else "  (offline)") for p, online in info.roots]
    sys.stdout.write("\n".join(lines) + "\n")
    if problems:
        raise damaged(info.path, "; ".join(problems[:3]))


def _thumbnail_line(count: int, size: int, moments: int) -> str:
    from vidsearch.output.present import plural

    if not count:
        return "thumbs:   none" + (" (vidsearch index makes them)" if moments else "")
    missing = ""
    if count < moments:
        missing = f"; {plural(moments - count, 'moment')} still without (vidsearch index makes them)"
    return f"thumbs:   {_size(size)} ({size / count / 1024:.1f} KiB per moment){missing}"


def _when_where_record(summary: FactsSummary) -> dict[str, Any]:
    from vidsearch.output.present import wall_clock

    return {
        "recorded": {
            "first": wall_clock(summary.first) if summary.first is not None else None,
            "last": wall_clock(summary.last) if summary.last is not None else None,
            "sources": summary.sources,
            "unread": summary.unread,
        },
        "with_position": summary.with_position,
        "places": [{"place": name, "videos": count} for name, count in summary.places],
        "cameras": [{"camera": name, "videos": count} for name, count in summary.cameras],
    }


def _when_where_lines(summary: FactsSummary) -> list[str]:
    """Dates (and where they came from), positions, top places and cameras, for people."""
    from vidsearch.media.metadata import describe_source
    from vidsearch.output.present import plural, wall_clock

    lines = []
    if summary.first is not None and summary.last is not None:
        span = f"{wall_clock(summary.first, time_of_day=False)} to {wall_clock(summary.last, time_of_day=False)}"
        sources = "; ".join(f"{count} from {describe_source(name)}" for name, count in summary.sources.items())
        lines.append(f"dates:    {span} ({sources})")
    if summary.unread:
        lines.append(f"          {summary.unread} not read yet (`vidsearch index` reads their dates and places)")
    has = "has" if summary.with_position == 1 else "have"
    lines.append(f"places:   {summary.with_position} of {plural(summary.videos, 'video')} {has} a position")
    if summary.places:
        lines.append("          " + ", ".join(f"{name} {count}" for name, count in summary.places))
    if summary.cameras:
        lines.append("cameras:  " + ", ".join(f"{name} {count}" for name, count in summary.cameras))
    return lines


def _speech_line(info: Any) -> str:
    """What the index holds of what was said, in one line."""
    from vidsearch.output.present import plural

    words = info.words
    line = (
        f"speech:   {plural(words.moments_with_speech, 'moment')} with words said, "
        f"{words.transcribed_seconds / 3600:.2f} h transcribed, {plural(words.videos_with_subtitles, 'video')} with "
        f"subtitles, {words.speech_errors} without "
        f"readable sound or subtitles"
    )
    if words.speech_pending:
        line += f"; {plural(words.speech_pending, 'video')} not read yet (vidsearch index reads them)"
    return line


def models(
    device: DeviceOption = "auto",
    check_exit: Annotated[
        str | None,
        typer.Option(
            "--check-exit",
            help="Instead of listing models: measure how far embeddings read at these decoder layers "
            "(e.g. 14,21) agree with full depth, on a sample of this index's moments and its model.",
            show_default=False,
        ),
    ] = None,
    check_precision: Annotated[
        str | None,
        typer.Option(
            "--check-precision",
            help="Instead of listing models: measure how far embeddings in this precision (e.g. int8) agree "
            "with the device's float precision, on a sample of this index's moments and its model.",
            show_default=False,
        ),
    ] = None,
    check_budget: Annotated[
        str | None,
        typer.Option(
            "--check-budget",
            help="Instead of listing models: measure how far embeddings under this budget setting (fast, "
            "faithful) agree with the reference's full budget (every frame at the model's trained size, "
            "1 frame per second), on a sample of this index's moments and its model.",
            show_default=False,
        ),
    ] = None,
    query: Annotated[
        list[str] | None,
        typer.Option(
            "--query", "-q", help="A query for the --check-* options' top-10 overlap (repeatable).",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[int, typer.Option("--sample", min=2, help="Moments the --check-* options decode again.")] = 50,
    db: DbOption = None,
    precision: PrecisionOption = "auto",
    json_out: Annotated[
        bool, typer.Option("--json", help="--check-exit/--check-precision/--check-budget: print one JSON object.")
    ] = False,
) -> None:
    """The known models: kind, size, whether usable here now, and which one auto picks."""
    if check_exit is not None or check_precision is not None or check_budget is not None:
        _run_check(check_exit, check_precision, check_budget, query, sample, db, device, precision, json_out)
        return
    from vidsearch.device import pick_device
    from vidsearch.models import KNOWN_MODELS, choose_auto, usable_here

    dev = pick_device(device)
    auto, why = choose_auto(dev)
    for spec in KNOWN_MODELS:
        ok, reason = usable_here(spec, dev)
        mark = "*" if spec.name == auto else " "
        names = spec.name + (f" (aliases: {', '.join(spec.aliases)})" if spec.aliases else "")
        sys.stdout.write(
            f"{mark} {names}\n    {spec.kind}\n    size: {spec.size}; needs: {spec.needs}\n"
            f"    here ({dev}): {'usable' if ok else 'not usable'}{': ' + reason if reason else ''}\n"
        )
    sys.stdout.write(f"* = what --model auto picks here: {why}\n")


def _run_check(
    exit_layers: str | None,
    precision_asked: str | None,
    budget: str | None,
    queries: list[str] | None,
    sample: int,
    db: Path | None,
    device: str,
    precision: str,
    json_out: bool,
) -> None:
    """One of the --check-* measurements on this index's moments and model; prints its report."""
    import json

    from vidsearch.embed import agreement
    from vidsearch.errors import UsageError

    if sum(x is not None for x in (exit_layers, precision_asked, budget)) > 1:
        raise UsageError("give one of --check-exit, --check-precision and --check-budget at a time")
    asked = queries or list(agreement.DEFAULT_QUERIES)
    layers: list[int] = []
    if exit_layers is not None:
        try:
            layers = [int(part) for part in exit_layers.replace(" ", "").split(",") if part]
        except ValueError:
            raise UsageError(
                f"--check-exit takes layer numbers separated by commas, e.g. 14,21 (got {exit_layers!r})"
            ) from None
        if not layers:
            raise UsageError("--check-exit needs at least one layer number, e.g. 14,21")
    option = "--check-exit" if exit_layers is not None else "--check-precision" if precision_asked else "--check-budget"
    with open_library(db, create=False) as library:
        store = library.store
        model = _qwen_model_of(store, option)
        report: Any
        if exit_layers is not None:
            report = agreement.check_exit(store, model, layers, asked, sample, device=device, precision=precision)
        elif precision_asked is not None:
            report = agreement.check_precision(store, model, precision_asked, asked, sample, device=device)
        else:
            assert budget is not None
            report = agreement.check_budget(store, model, budget, asked, sample, device=device, precision=precision)
    if json_out:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        sys.stdout.write("\n".join(report.lines()) + "\n")


def _qwen_model_of(store: Any, option: str) -> str:
    """The index's model, which must be a Qwen3-VL one for ``option``."""
    from vidsearch.errors import UsageError
    from vidsearch.models import LITE

    model = store.model
    if not model:
        raise UsageError(f"the index {store.path} has no model yet; index some videos first")
    if model == LITE:
        raise UsageError(f"{option} needs an index built with a Qwen3-VL model (this one uses lite)")
    return str(model)
