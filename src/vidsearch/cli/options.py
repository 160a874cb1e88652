"""Option aliases shared by the commands (one definition, same help everywhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DbOption = Annotated[
    Optional[Path],
    typer.Option(
        "--db",
        envvar="VIDSEARCH_DB",
        help="Index file to use [default: index.db in the user data folder].",
        show_default=False,
        dir_okay=False,
    ),
]
ModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        "-m",
        help="Model: auto, lite, qwen3-vl-2b, qwen3-vl-8b, a Hugging Face id or a local folder. "
        "A new index uses auto; an existing one keeps the model it was built with.",
        show_default=False,
    ),
]
DeviceOption = Annotated[
    str,
    typer.Option("--device", help="Where the model runs: auto (CUDA, then MPS, then CPU), cuda, mps, cpu."),
]
PrecisionOption = Annotated[
    str,
    typer.Option("--precision", help="Model precision: auto, bf16, fp16, fp32."),
]
