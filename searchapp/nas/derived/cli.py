"""``python -m searchapp.nas.derived cifar10|tinyimagenet|suite|download ...``

One-line reason and exit status 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..data import ImageData
from ..errors import DataError
from .cifar import derive_cifar10
from .download import fetch
from .sources import CIFAR10_FILE, SOURCES, TINY_FILE
from .suite import suite_plan
from .tinyimagenet import derive_tinyimagenet


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd in ("cifar10", "tinyimagenet"):
            start = time.perf_counter()
            fn = derive_cifar10 if args.cmd == "cifar10" else derive_tinyimagenet
            data = fn(args.source, args.classes.split(","))
            _save(data, Path(args.out))
            print(json.dumps({**data.summary(), "seconds": round(time.perf_counter() - start, 2)}))
        elif args.cmd == "suite":
            _suite(args.cifar, args.tiny, Path(args.out))
        else:
            print(fetch(args.kind, args.to))
    except (DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m searchapp.nas.derived",
        description="Derive a dataset from CIFAR-10 or Tiny-ImageNet into an .npz.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    for kind in ("cifar10", "tinyimagenet"):
        p = sub.add_parser(kind)
        p.add_argument("--classes", required=True, help="comma-separated class names")
        p.add_argument("--source", required=True, help=f"{SOURCES[kind]['file']} or its folder")
        p.add_argument("--out", required=True, help="output .npz")
    p = sub.add_parser("suite", help="derive the paper's suite into a folder of .npz files")
    p.add_argument("--cifar", help=f"{CIFAR10_FILE} or its folder")
    p.add_argument("--tiny", help=f"{TINY_FILE} or its folder")
    p.add_argument("--out", required=True, help="output folder")
    p = sub.add_parser("download", help="download an official archive into a folder")
    p.add_argument("kind", choices=list(SOURCES))
    p.add_argument("--to", required=True, help="folder")
    return ap


def _suite(cifar: str | None, tiny: str | None, out: Path) -> None:
    if not cifar and not tiny:
        raise DataError("give --cifar and/or --tiny")
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for entry, derive in suite_plan(cifar, tiny):
        if derive is None:
            continue
        t0 = time.perf_counter()
        data = derive()
        slug = entry["name"].lower().replace(", ", "-").replace(" ", "_")
        _save(data, out / f"{slug}.npz")
        print(
            f"{entry['name']:<34} train {len(data.y_train):>6} test {len(data.y_test):>5}"
            f"  {time.perf_counter() - t0:6.1f}s",
            flush=True,
        )
    print(f"total {time.perf_counter() - start:.1f}s")


def _save(data: ImageData, out: Path) -> None:
    if out.suffix != ".npz":
        raise DataError(f"{out}: output must end in .npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    data.save_npz(out)
