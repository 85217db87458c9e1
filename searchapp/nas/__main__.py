"""Command line: ``python -m searchapp.nas search DATA --out DIR [options]``, and
``python -m searchapp.nas export RUN_DIR --candidate N --out DIR`` (export_candidate.py).

Runs a whole Mini-NAS search without Django, Redis or a database. Bad input gives a
one-line reason on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config import SETTINGS, SearchConfig, chosen_on
from .settings import add_arguments, given

if TYPE_CHECKING:
    from .data import ImageData
    from .search import SearchResult

EXIT_BAD_INPUT = 2


class _Progress:
    """A one-line progress bar over the running candidate's epochs, then a line per candidate."""

    def __init__(self, stream, image_size: int):
        self.stream = stream
        self.tty = stream.isatty()
        self.image_size = image_size
        self.current = None
        self.last_len = 0

    def __call__(self, e: dict) -> None:
        t = e["type"]
        if t == "search.phase":
            self._line(f"== phase: {e['phase']}")
        elif t == "candidate.started":
            self.current = e
            self._bar(0, 1, "")
        elif t in ("candidate.epoch", "final.epoch"):
            self._bar(
                e["epoch"], e["epochs"], f"loss {e['loss']} train {e['train_acc']:.1f}%{_sel(e)}"
            )
        elif t == "final.started":
            self.current = {"index": "final"}
            self._line(
                f"== final training: the chosen network on train + validation, "
                f"{e['recipe']} recipe, {e['epochs']} epochs"
            )
        elif t == "candidate.finished":
            c = e["candidate"]
            from .space import Arch

            mark = "*" if c["accepted"] else " "
            tail = " (replayed)" if c.get("replayed") else ""
            if c.get("status") == "diverged":
                tail += " DIVERGED"
            elif c.get("status") == "over_budget":
                tail += " OVER BUDGET (not trained)"
            val = f"val {_pct(c.get('val_acc'))}  " if c.get("val_acc") is not None else ""
            self._line(
                f"{mark} #{c['index']:<3} {c['phase']:<6} {Arch.from_dict(c['arch']).short:<40} "
                f"params {c['params']:>9,}  MACs {c.get('macs', 0) / 1e6:7.2f}M  "
                f"RAM {c.get('ram_kb') or 0:7.1f}KB  flash {c.get('flash_kb') or 0:7.1f}KB  "
                f"train {_pct(c.get('train_acc'))}  {val}"
                f"test {_pct(c.get('test_acc'))} {_ci(c.get('test_ci95'))}  "
                f"{c.get('seconds') or 0:7.1f}s  {c['reason']}{tail}"
            )

    def _bar(self, done: int, total: int, text: str) -> None:
        if not self.tty or self.current is None:
            return
        width = 24
        fill = int(width * done / max(total, 1))
        msg = f"  #{self.current['index']} [{'#' * fill}{'.' * (width - fill)}] epoch {done}/{total} {text}"
        self.stream.write("\r" + msg.ljust(self.last_len))
        self.stream.flush()
        self.last_len = len(msg)

    def _line(self, text: str) -> None:
        if self.tty and self.last_len:
            self.stream.write("\r" + " " * self.last_len + "\r")
            self.last_len = 0
        self.stream.write(text + "\n")
        self.stream.flush()


def _exports_table(exports: dict) -> str:
    """float32 beside int8: file, size, test accuracy, latency; flags and failures named."""
    from .files import human_bytes

    rows = [f"{'file':<20} {'precision':<9} {'size':>10} {'test acc':>9} {'latency':>10}"]
    notes = []
    for name, entry in exports.items():
        label = "TFLM check" if name == "tflm" else entry.get("file", "?")
        if "error" in entry:
            rows.append(f"{label:<20} FAILED: {entry['error']}")
            continue
        if name == "tflm":  # the .tflite in TensorFlow Lite Micro: its arena instead of a size
            rows.append(_tflm_row(label, entry))
            continue
        lat = entry.get("latency_ms")
        rows.append(
            f"{entry['file']:<20} {entry.get('precision', ''):<9} "
            f"{human_bytes(entry['bytes']):>10} {_pct(entry.get('test_acc')):>9} "
            f"{'' if lat is None else f'{lat:.3f} ms':>10}"
            + (f"  << {entry['flag']}" if entry.get("flag") else "")
        )
        if entry.get("latency_on") and not notes:
            notes.append(f"latency: {entry['latency_on']}")
    if any("error" in e for e in exports.values()):
        notes.append("a failed export keeps the float32 files; the reason is in result.json")
    return "\n".join(rows + notes)


def _tflm_row(label: str, entry: dict) -> str:
    from .files import human_bytes

    fits = entry.get("fits") or {}
    flag = ""
    if fits and not fits.get("ok"):
        flag = f"  << arena {fits['arena_kb']} KB over the {fits['budget_kb']} KB RAM budget"
    arena = "arena " + human_bytes(entry["arena_bytes"])
    return f"{label:<20} {'int8':<9} {arena:>10} {_pct(entry.get('test_acc')):>9}{flag}"


def _pct(v) -> str:
    return "   -  " if v is None else f"{v:6.2f}%"


def _ci(ci) -> str:
    return f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def _sel(e: dict) -> str:
    """The epoch's selection accuracy: validation's, or test's when selecting on test."""
    if e.get("val_acc") is not None:
        return f" val {e['val_acc']:.1f}%"
    if e.get("test_acc") is not None:
        return f" test {e['test_acc']:.1f}%"
    return ""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m searchapp.nas", description="Mini-NAS search engine")
    p.add_argument("--version", action="version", version=f"mininas {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("search", help="run a whole search on an image folder, zip or .npz")
    s.add_argument(
        "data", help="image folder (train/<class>/*, optional test/<class>/*), .zip or .npz"
    )
    s.add_argument(
        "--out", required=True, help="output folder for result.json, model.pt, model.onnx"
    )
    add_arguments(s, SETTINGS)
    s.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="held-out share per class when DATA has no test split",
    )
    s.add_argument(
        "--export",
        choices=["int8"],
        help="after the search, also write model_int8.onnx, model_int8.tflite and "
        "model_data.cc/.h, and print float32 beside int8 (size, test accuracy, latency)",
    )
    s.add_argument(
        "--resume",
        action="store_true",
        help="replay candidates recorded in OUT/result.json or OUT/progress.jsonl",
    )
    e = sub.add_parser("export", help="train and export any trained candidate of a search")
    e.add_argument("run_dir", help="a search's --out folder (it holds result.json)")
    e.add_argument("--candidate", type=int, required=True, help="the candidate's index (#N)")
    e.add_argument("--out", required=True, help="output folder for the candidate's files")
    e.add_argument(
        "--data", help="the search's dataset, when it is no longer where result.json says"
    )
    e.add_argument(
        "--test-fraction", type=float, default=0.2, help="as given to the search, if it was"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a one-line usage error
        return int(exc.code or 0)
    if args.command == "search":
        return _search(args)
    if args.command == "export":
        return _export(args)
    return EXIT_BAD_INPUT


def _export(args) -> int:
    """One candidate of a finished search: its final training and every export file."""
    from .export_candidate import ExportError, export_candidate, pick_candidate, read_run, run_data

    try:
        run = read_run(args.run_dir)
        record = pick_candidate(run, args.candidate)
        data = run_data(run, args.data, args.test_fraction)
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except ExportError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot create output folder {args.out}: {exc.strerror or exc}")
    from .space import Arch

    print(f"candidate #{args.candidate}: {Arch.from_dict(record['arch']).short}")
    progress = _Progress(sys.stdout, data.image_size)

    def on_event(e: dict) -> None:
        if e["type"] == "final.started":  # the progress line names the chosen network
            progress.current = {"index": "final"}
            return progress._line(
                f"== final training of #{args.candidate} on train + validation, "
                f"{e['recipe']} recipe, {e['epochs']} epochs"
            )
        progress(e)

    try:
        result, paths = export_candidate(
            run, args.candidate, data, args.out, weights_dir=args.run_dir, on_event=on_event
        )
    except ExportError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write outputs to {args.out}: {exc.strerror or exc}")
    final = result.final or {}
    if final.get("test_acc") is not None:
        print(f"final model: test {final['test_acc']:.2f}% {_ci(final.get('test_ci95'))}")
    print(_exports_table(result.exports or {}))
    t = result.timing
    print(f"final training {t['final']:.1f}s, exports {t['exports']:.1f}s; wrote "
          + ", ".join(paths.values()))  # fmt: skip
    return 0


def _search(args) -> int:
    from .search import run_search

    try:
        config, data, out = _inputs(args)
    except _BadInput as exc:
        return _fail(str(exc))
    progress_path = out / "progress.jsonl"
    records = _recorded(progress_path) if args.resume else []
    if not args.resume and progress_path.exists():
        progress_path.unlink()
    _print_setup(data, config, records)
    progress = _Progress(sys.stdout, data.image_size)

    def on_event(e: dict) -> None:
        progress(e)
        if e["type"] == "candidate.finished" and not e["candidate"].get("replayed"):
            with progress_path.open("a") as f:
                f.write(json.dumps(e["candidate"]) + "\n")

    t0 = time.perf_counter()
    try:
        result = run_search(data, config, on_event=on_event, records=records, work_dir=out)
    except KeyboardInterrupt:
        print("\ninterrupted: rerun with --resume to continue where it stopped", file=sys.stderr)
        return 130
    from .export import write_outputs

    try:
        paths = write_outputs(result, data, out, int8=args.export == "int8")
    except OSError as exc:
        return _fail(f"cannot write outputs to {out}: {exc.strerror or exc}")
    _print_outcome(result, data, args.export == "int8")
    print(
        f"{len(result.candidates)} candidates in {time.perf_counter() - t0:.1f}s; wrote "
        + ", ".join(paths.values())
    )
    return 0


class _BadInput(Exception):
    """Input the search refuses before any work; its message is the one-line reason."""


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _inputs(args) -> tuple[SearchConfig, ImageData, Path]:
    """The settings, the dataset and the output folder, each checked; _BadInput if not."""
    from .budget import BudgetError
    from .data import DataError, load_dataset

    try:
        config = SearchConfig.from_dict(given(args, SETTINGS))
        if config.device.startswith("cuda"):
            from .train import resolve_device

            resolve_device(config.device)
    except ValueError as exc:
        raise _BadInput(str(exc)) from exc
    try:
        data = load_dataset(
            args.data, strict=True, seed=config.seed, test_fraction=args.test_fraction
        )
    except DataError as exc:
        raise _BadInput(str(exc)) from exc
    try:  # a budget that no architecture within the bounds fits: refused before any work
        config.check_space(3, data.image_size, data.num_classes)
    except BudgetError as exc:
        raise _BadInput(str(exc)) from exc
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _BadInput(f"cannot create output folder {out}: {exc.strerror}") from exc
    return config, data, out


def _recorded(progress_path: Path) -> list[dict]:
    """The candidates a stopped run recorded, one JSON line each, up to a torn last line."""
    records = []
    if progress_path.exists():
        for line in progress_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line from a crash
    return records


def _print_setup(data: ImageData, config: SearchConfig, records: list[dict]) -> None:
    """The dataset, the recipe and the budget, before the search starts."""
    from .budget import Budget
    from .folds import folds_note

    s = data.summary()
    print(
        f"dataset: {s['source']}  classes {s['num_classes']} ({', '.join(s['classes'][:6])}"
        f"{', ...' if s['num_classes'] > 6 else ''})  train {s['train']}  test {s['test']}  "
        f"{s['image_size']}x{s['image_size']}px"
        + (f"  resized {s['resized']} (most were {s['resized_from']})" if s["resized"] else "")
    )
    print(
        f"recipe: {config.recipe}  epochs: {config.epochs or 'recipe default'}  device: {config.device}"
        f"  seed: {config.seed}"
        + (f"  replaying {len(records)} recorded candidates" if records else "")
    )
    if config.select_on == "validation":
        k = config.folds_for(len(data.y_train))
        print(f"decisions: {config.rule} rule, {folds_note(config.folds, k)}")
    else:
        print(f"decisions: {config.rule} rule, on test (no folds)")
    budget = Budget.from_config(config)
    if budget.active:
        print("budget: " + budget.describe())


def _print_outcome(result: SearchResult, data: ImageData, int8: bool) -> None:
    """The chosen architecture, the final model's scores, its layer table and the exports."""
    from .space import Arch, format_table

    best = result.best
    arch = Arch.from_dict(best["arch"])
    print()
    split = result.selection_split
    val = (
        f"validation {best['val_acc']:.2f}% {_ci(best.get('val_ci95'))}, "
        if best.get("val_acc") is not None
        else ""
    )
    print(
        f"final architecture ({arch.short}, chosen on {chosen_on(split)}), "
        f"{best['params']:,} parameters, "
        f"{best['macs'] / 1e6:.1f}M MACs; search-time {val}test {best['test_acc']:.2f}% "
        f"{_ci(best.get('test_ci95'))}"
    )
    final = result.final
    if final and final.get("test_acc") is not None:
        print(
            f"final model ({final['recipe']} recipe, {final['epochs']} epochs on train + "
            f"validation): test {final['test_acc']:.2f}% {_ci(final['test_ci95'])}; per class: "
            + ", ".join(f"{c} {a:.1f}%" for c, a in final["per_class"].items() if a is not None)
        )
    print(format_table(arch, data.image_size))
    if int8 and result.exports:
        print(_exports_table(result.exports))


if __name__ == "__main__":
    sys.exit(main())
