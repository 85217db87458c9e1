"""Export any trained candidate of a finished search, not only the one the search chose.

``python -m searchapp.nas export RUN_DIR --candidate N --out DIR`` (and the web's export job)
read the search's result.json, train candidate N again with the search's final recipe
(final.train_final, the winner's own path), and write its files with export.write_outputs,
the search's own export step: model.pt, model.onnx, the int8 files, the TFLM check and the
C array. DIR/result.json names the candidate (``"candidate": N``) beside its figures,
``final`` and ``exports``. Bad input raises ExportError with a one-line reason.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from .result import SearchResult

TRAINED = "ok"  # a candidate's status once it trained (not over budget, not diverged)


class ExportError(ValueError):
    """A run folder, candidate or dataset that cannot be exported; the message says why."""


@dataclass
class CandidateResult(SearchResult):
    """What an export writes as result.json: the candidate (as ``best``, which the export
    step reads), its final model and its files."""

    candidate: int = -1
    search_best: int | None = None  # the index of the candidate the search chose
    timing: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        best = self.best or {}
        figures = ("params", "macs", "ram_kb", "flash_kb", "train_acc", "val_acc", "test_acc")
        return {
            "candidate": self.candidate,
            "arch": best.get("arch"),
            "figures": {k: best.get(k) for k in figures},
            "record": best,
            "search_best": self.search_best,
            "dataset": self.dataset,
            "config": self.config,
            "selection_split": self.selection_split,
            "final": self.final,
            "exports": self.exports,
            "seconds": self.timing,
        }


def read_run(run_dir: str | os.PathLike) -> dict:
    """A search's result.json from its run folder; ExportError when there is none to read."""
    path = Path(run_dir) / "result.json"
    if not Path(run_dir).is_dir():
        raise ExportError(f"{run_dir}: no such run folder")
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExportError(f"{run_dir}: no result.json (not a search's run folder)") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: not a readable result.json ({exc})") from None
    if not isinstance(run, dict) or not isinstance(run.get("candidates"), list):
        raise ExportError(f"{path}: not a search's result.json (no candidate list)")
    if not isinstance(run.get("config"), dict):
        raise ExportError(f"{path}: not a search's result.json (no config)")
    return run


def pick_candidate(run: dict, index: int) -> dict:
    """The record of candidate ``index``; ExportError when unknown or never trained."""
    by_index = {c.get("index"): c for c in run["candidates"] if isinstance(c, dict)}
    record = by_index.get(index)
    if record is None:
        known = sorted(i for i in by_index if isinstance(i, int))
        span = f"{known[0]}..{known[-1]}" if known else "none"
        raise ExportError(f"no candidate {index} in this search (its candidates: {span})")
    status = record.get("status", TRAINED)
    if status != TRAINED or record.get("test_acc") is None or not record.get("arch"):
        why = {"over_budget": "over the budget, never trained", "diverged": "it diverged"}
        reason = why.get(status, f"status {status!r}, not trained")
        raise ExportError(f"candidate {index} cannot be exported: {reason}")
    return record


def run_data(run: dict, data_path: str | os.PathLike | None = None, test_fraction: float = 0.2):
    """The search's dataset, read from ``data_path`` or the path result.json recorded, and
    checked against result.json's dataset (classes and split sizes); ExportError if not."""
    from .data import DataError, load_dataset

    recorded = run.get("dataset") or {}
    path = data_path or recorded.get("source")
    if not path:
        raise ExportError("result.json does not say where its dataset is: give --data PATH")
    seed = run["config"].get("seed") or 0
    try:
        data = load_dataset(path, strict=True, seed=seed, test_fraction=test_fraction)
    except DataError as exc:
        raise ExportError(f"dataset: {exc} (give the search's dataset with --data PATH)") from None
    check_data(run, data)
    return data


def check_data(run: dict, data) -> None:
    """ExportError unless ``data`` is the search's dataset (classes, sizes, image side)."""
    recorded = run.get("dataset") or {}
    have = data.summary()
    for key in ("classes", "train", "test", "image_size"):
        if key in recorded and recorded[key] != have[key]:
            raise ExportError(
                f"dataset {have['source']} is not the search's: {key} {have[key]} where the "
                f"search had {recorded[key]} (give the search's dataset with --data PATH)"
            )


def export_candidate(
    run: dict, index: int, data, out_dir, *, weights_dir=None, on_event=None, should_stop=None
):
    """Train candidate ``index`` of the search ``run`` (its result.json) with the search's
    final recipe and write its files to ``out_dir``; returns (CandidateResult, paths).

    The same steps as the end of a search for its winner: final.train_final (skipped, like
    the search's, when its final epochs are 0: then the candidate's own weights, from
    ``weights_dir`` (candidate_weights.py) or trained again, seeded), then
    export.write_outputs with the int8 files, the TFLM check and the C array."""
    from .config import SearchConfig
    from .export import write_outputs
    from .final import best_weights, train_final

    record = pick_candidate(run, index)
    check_data(run, data)
    try:
        config = SearchConfig.from_dict(run["config"])
    except ValueError as exc:
        raise ExportError(f"result.json's config: {exc}") from None
    best = run.get("best") or {}
    result = CandidateResult(
        candidates=[record],
        best=record,
        config=run["config"],
        dataset=run.get("dataset") or data.summary(),
        selection_split=run.get("selection_split", "validation"),
        candidate=index,
        search_best=best.get("index"),
    )
    t0 = time.perf_counter()
    train_final(SimpleNamespace(config=config, data=data), result, on_event, should_stop)
    if result.final_state is None:  # no final training (or it diverged): the candidate's own
        result.best_state = best_weights(_engine_search(config, data, record, weights_dir))
    t1 = time.perf_counter()
    paths = write_outputs(result, data, out_dir, int8=True, on_event=on_event)
    result.timing = {
        "final": round(t1 - t0, 3),
        "exports": round(time.perf_counter() - t1, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    paths = write_outputs_json(result, paths)
    return result, paths


def write_outputs_json(result: CandidateResult, paths: dict) -> dict:
    """Rewrite result.json with the timings, which are known only once the files are written."""
    from .files import atomic_path

    with atomic_path(paths["result"]) as tmp:
        Path(tmp).write_text(json.dumps(result.to_json(), indent=1))
    return paths


def _engine_search(config, data, record: dict, weights_dir):
    """What final.best_weights reads: the candidate's saved weights in ``weights_dir``, or
    the seeded retraining on the search's selection split."""
    from .executors import selection_split

    return SimpleNamespace(
        best=SimpleNamespace(key=record.get("key") or "", arch=record["arch"]),
        states={},
        work_dir=Path(weights_dir) if weights_dir else None,
        data=data,
        config=config,
        split=selection_split(config, data),
    )
