"""What the engine benchmarks share: the CPU-thread and JSON-output options, and the output."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def add_output_options(p: argparse.ArgumentParser) -> None:
    """--threads and --json-out."""
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own, one per core)",
    )
    p.add_argument("--json-out", default=None, help="also write the JSON to this file")


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse the arguments and apply --threads."""
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def emit(out: dict, args: argparse.Namespace) -> dict:
    """Print the result as one JSON object on stdout (and to --json-out)."""
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return out
