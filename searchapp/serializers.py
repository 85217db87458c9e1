"""JSON shapes shared by the API, the socket snapshot and the live events."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from searchapp.nas.space import Arch, table

from . import report
from .derive import suite_rows
from .headline import headline
from .models import BaselineRun, Candidate, Dataset, Search, SuiteRun


def _iso(dt) -> str | None:
    return dt.isoformat() if dt else None


def arch_short(arch: dict) -> str:
    try:
        return Arch.from_dict(arch).short
    except ValueError:
        return ""


def arch_table(arch: dict, image_size: int) -> list[dict]:
    """Table-1 rows (layer, ch, dims, stride, op, k) of an architecture."""
    try:
        return table(Arch.from_dict(arch), image_size)
    except ValueError:
        return []


def candidate_json(c: Candidate) -> dict:
    """The public fields of the candidate's record, plus its short architecture string. Its
    `evidence` is None for a candidate that was not judged against another (the first one, one
    over budget, and every candidate of a search saved before decisions carried evidence)."""
    data = c.as_record().public() | {"arch_short": arch_short(c.arch)}
    data.setdefault("evidence", (c.record or {}).get("evidence"))
    return data


def best_json(search: Search) -> dict | None:
    """The best candidate so far, with its Table-1 rows."""
    best = search.best
    if best is None:
        return None
    data = candidate_json(best)
    data["table"] = arch_table(best.arch, search.dataset.image_size)
    return data


# The artifacts a search can hand over (Search.outputs keys): the name a download gets ({pk}:
# the search) and its content type. The C files keep their own names: the .cc includes the .h.
ARTIFACTS = {
    "pt": ("mininas-search{pk}.pt", "application/octet-stream", "Weights (.pt)"),
    "onnx": ("mininas-search{pk}.onnx", "application/octet-stream", "ONNX (.onnx)"),
    "json": ("mininas-search{pk}-result.json", "application/json", "Result (result.json)"),
    "int8_onnx": ("mininas-search{pk}-int8.onnx", "application/octet-stream", "int8 ONNX"),
    "int8_tflite": ("mininas-search{pk}-int8.tflite", "application/octet-stream", "int8 .tflite"),
    "c_source": ("model_data.cc", "text/x-c++src; charset=utf-8", "C array (model_data.cc)"),
    "c_header": ("model_data.h", "text/x-chdr; charset=utf-8", "C header (model_data.h)"),
    "arduino": ("mininas-search{pk}-arduino.zip", "application/zip", "Arduino library (.zip)"),
}
# result.json's "exports" names each artifact by its file: which download kind serves it
EXPORT_KINDS = {
    "model.pt": "pt",
    "model.onnx": "onnx",
    "model_int8.onnx": "int8_onnx",
    "model_int8.tflite": "int8_tflite",
    "model_data.cc": "c_source",
    "model_data.h": "c_header",
    "model_arduino.zip": "arduino",
}
INT8_LOSS_FLAG = 1.0  # points of test accuracy an int8 model may lose before it is flagged


def downloads(search: Search) -> dict:
    """URLs of the artifacts that exist for this search, by kind (ARTIFACTS' order)."""
    from .storage import media_path

    urls = {}
    for kind in ARTIFACTS:
        rel = (search.outputs or {}).get(kind)
        if rel and media_path(rel).is_file():
            urls[kind] = reverse("searchapp-download", args=[search.pk, kind])
    return urls


def export_rows(search: Search, urls: dict | None = None) -> list[dict]:
    """Search.exports as the page's table: one row per artifact (keyed by download kind), float32
    first, then int8, then the C array, each with its download URL and, for int8, the points of
    test accuracy it lost against float32 (`vs_float32` negated) and whether that is over 1."""
    urls = downloads(search) if urls is None else urls
    exports = search.exports or {}
    rows = []
    for name, e in exports.items():
        e = e if isinstance(e, dict) else {"error": str(e)}
        base = (e.get("file") or "").rsplit("/", 1)[-1]
        kind = name if name in ARTIFACTS else EXPORT_KINDS.get(base, "")
        rows.append(
            {
                "name": name,
                "file": base,
                "bytes": e.get("bytes"),
                "test_acc": e.get("test_acc"),
                "latency_ms": e.get("latency_ms"),
                "latency_on": e.get("latency_on") or "",
                "error": e.get("error") or "",
                "int8": e.get("precision") == "int8" or "int8" in name or "int8" in base,
                "c_array": kind in ("c_source", "c_header", "arduino"),
                "vs_float32": e.get("vs_float32"),
                "arena_bytes": e.get("arena_bytes"),  # the TFLM check's row (exports.tflm)
                "runtime": e.get("runtime") or "",
                "fits": e.get("fits"),
                "arena_over": bool(e.get("fits")) and not e["fits"].get("ok", True),
                "url": urls.get(kind, ""),
            }
        )
    floats = {r["name"]: r["test_acc"] for r in rows if not r["int8"] and not r["c_array"]}
    reference = floats.get("onnx", next((v for v in floats.values() if v is not None), None))
    for r in rows:
        loss = None
        if r["vs_float32"] is not None:
            loss = -float(r["vs_float32"])
        elif r["int8"] and reference is not None and r["test_acc"] is not None:
            loss = reference - r["test_acc"]
        r["loss"] = loss if r["int8"] else None
        r["flag"] = r["loss"] is not None and r["loss"] > INT8_LOSS_FLAG
    rows.sort(key=lambda r: (r["c_array"], r["int8"]))  # float32, then int8, then the C array
    return rows


# The budget figures, the candidate field each limits (the chart's x-axes) and its label
AXES = {
    "params": "parameters",
    "macs": "MACs",
    "ram_kb": "peak RAM (KB, int8)",
    "flash_kb": "flash (KB, int8)",
    "board_latency_ms": "board latency (ms, estimate)",
}


def latency_note(settings: dict | None) -> str:
    """What the board latency estimate is and how close to expect it ("estimate ±35%: TFLM +
    CMSIS-NN on the nRF52840 at 64 MHz, ..."); "" without a board."""
    from searchapp.nas.latency import note

    return note(str((settings or {}).get("target") or "none"))


def chart_axes(settings: dict | None) -> list[dict]:
    """The chart's x-axis choices for a search: AXES, less the board latency without a board."""
    board = bool(latency_note(settings))
    return [{"key": k, "label": v} for k, v in AXES.items() if board or k != "board_latency_ms"]


def budget_limits(settings: dict | None) -> dict:
    """The search's budget as {figure: limit} for the figures of AXES that are limited ({} when
    none, or for settings this version cannot read)."""
    from searchapp.nas.budget import Budget
    from searchapp.nas.config import SearchConfig
    from searchapp.nas.settings import SettingError

    try:
        limits = Budget.from_config(SearchConfig.from_dict(settings or {})).limits
    except (SettingError, ValueError):
        return {}
    return {k: float(v) for k, v in limits.items() if k in AXES and v}


RULE_TEXT = {
    "evidence": "only when the gain is clear (evidence rule)",
    "paper": "the paper's thresholds (Algorithm 1 as published)",
}
"""How each decision rule reads on the pages (the form's choices say the same, forms.py)."""


def folds_text(folds: str, k: int, n_train: int, split: str = "validation") -> str:
    """The folds a search trains each candidate on, in words: "auto chose 3 folds for 400
    training images: 3 trainings per candidate", "one validation split: 1 training per
    candidate", or the test split's "no validation (chosen on test): ..."."""
    if split != "validation":
        return "no validation (chosen on test): 1 training per candidate"
    auto = folds == "auto"
    what = f"{k} folds" if k > 1 else "one validation split"
    images = f" for {n_train:,} training images" if auto else ""
    trainings = f"{k} trainings" if k > 1 else "1 training"
    return f"{'auto chose ' if auto else ''}{what}{images}: {trainings} per candidate"


def decisions_json(settings: dict | None, n_train: int, trained: int | None = None) -> dict:
    """How a search's decisions were made: {"rule", "folds" (as set), "k" (the folds each
    candidate trained on: ``trained`` when its candidates recorded it, else what the settings
    resolve to now), "text"}. A search saved before these settings ran the paper's rule on one
    split."""
    from searchapp.nas.config import PAPER_SPLIT, SearchConfig
    from searchapp.nas.settings import SettingError

    settings = settings or {}
    rule = settings.get("rule", "paper")
    folds = str(settings.get("folds", "1"))
    split = settings.get("select_on", PAPER_SPLIT)
    k = 1
    if trained:
        k = trained
    elif "folds" in settings:
        try:
            k = SearchConfig.from_dict(settings).folds_for(n_train)
        except (SettingError, ValueError):
            k = 1
    text = f"{RULE_TEXT.get(rule, rule)}; {folds_text(folds, k, n_train, split)}"
    return {"rule": rule, "folds": folds, "k": k, "text": text}


def trained_folds(search: Search) -> int | None:
    """The folds the search's candidates trained on, as the first to record it says."""
    k = (
        search.candidates.filter(record__has_key="folds")
        .order_by("index")
        .values_list("record__folds", flat=True)
        .first()
    )
    return k if isinstance(k, int) and not isinstance(k, bool) and k >= 1 else None


def search_json(search: Search) -> dict:
    urls = downloads(search)
    return {
        "id": search.pk,
        "url": search.get_absolute_url(),
        "dataset": {"id": search.dataset_id, "name": search.dataset.name},
        "status": search.status,
        "phase": search.phase,
        "progress": search.progress,
        "settings": search.settings,
        "created": _iso(search.created),
        "started": _iso(search.started),
        "finished": _iso(search.finished),
        "duration": search.duration,
        "error": search.error,
        "cancel_requested": search.cancel_requested,
        "seq": search.seq,
        "best": best_json(search),
        "downloads": urls,
        "exports": export_rows(search, urls),
        "budget": budget_limits(search.settings),
        "board_latency_note": latency_note(search.settings),
        "wall_seconds": search.wall_seconds,
        "train_seconds": search.train_seconds,
        "selection_split": report.selection_split(search),
        "decisions": decisions_json(
            search.settings, search.dataset.num_train, trained_folds(search)
        ),
        "final": search.final or None,
        "headline": headline(search),  # the one accuracy every page shows (headline.py)
    }


def compare_json(search: Search) -> dict:
    """A finished search as the compare page shows it: its result, Table-1 rows and candidates."""
    data = search_json(search)
    data["candidates"] = [
        {k: c[k] for k in ("index", "phase", "params", "test_acc", "accepted", "arch_short")}
        | {"test_ci95": c.get("test_ci95")}
        for c in (candidate_json(c) for c in search.candidates.order_by("index"))
        if c["status"] != "running"
    ]
    return data


def snapshot(search: Search) -> dict:
    """Everything a page needs to redraw: what the socket sends on connect or on resync."""
    rows = list(search.candidates.order_by("index"))
    running = [c for c in rows if not c.is_finished]
    return {
        "type": "snapshot",
        "seq": search.seq,
        "search": search_json(search),
        "candidates": [candidate_json(c) for c in rows if c.is_finished],
        "running": candidate_json(running[-1]) if running else None,
        "in_flight": [in_flight_json(c) for c in running],
        "baselines": baseline_rows(search),
    }


def in_flight_json(c: Candidate) -> dict:
    """A running candidate as the "In flight" panel shows it: who trains it, which epoch."""
    p = c.progress or {}
    return {
        "index": c.index,
        "phase": c.phase,
        "arch_short": arch_short(c.arch),
        "params": c.params,
        "worker": c.worker,
        "speculative": c.speculative,
        "epoch": p.get("epoch", 0),
        "epochs": p.get("epochs"),
        "loss": p.get("loss"),
        "val_acc": p.get("val_acc"),
        "test_acc": p.get("test_acc"),
    }


def dataset_json(d: Dataset) -> dict:
    return {
        "id": d.pk,
        "url": d.get_absolute_url(),
        "name": d.name,
        "source": d.source,
        "classes": d.classes,
        "counts": d.counts,
        "image_size": d.image_size,
        "num_train": d.num_train,
        "num_test": d.num_test,
        "rejected": d.rejected,
        "resized": d.resized,
        "created": _iso(d.created),
        "status": d.status,
        "error": d.error,
        "packing": packing_json(d),
    }


PACKING_MESSAGES = {
    "waiting": "waiting for its turn: other uploads are being packed",
    "queued": "waiting for a free worker",
    "running": "a worker is checking and packing the images",
}


def packing_json(d: Dataset) -> dict:
    """Where a packing upload stands: "waiting" for its turn, "queued" for a worker, or
    "running" since `started`, with a sentence for its page; {} once ready or failed."""
    if d.status != Dataset.Status.PACKING:
        return {}
    started = d.packing.get("started")
    state = "running" if started else ("queued" if d.rq_job_id else "waiting")
    return {"state": state, "started": started, "message": PACKING_MESSAGES[state]}


# ----------------------------------------------------------------------------- the suite page


def suite_row_json(row: dict) -> dict:
    """A row of derive.suite_rows as the suite page draws it and its socket sends it."""
    d, s = row["dataset"], row["search"]
    if s is not None:
        split = report.split_text(report.selection_split(s))
        latest = (s.get_absolute_url(), f"Search {s.pk} · {s.status} · {split}")
    elif d is not None:
        # the paper's rule (select on test), so the report stays comparable with Table 4
        query = urlencode({"dataset": d.pk, **report.PAPER_SETTINGS})
        start = f"start one (chosen on {report.PAPER_SETTINGS['select_on']})"
        latest = (f"{reverse('searchapp-search-new')}?{query}", start)
    else:
        latest = ("", "–")
    return {
        **{k: v for k, v in row.items() if k not in ("dataset", "search")},
        "dataset_url": d.get_absolute_url() if d else "",
        "archive_missing": d is None and not row["source_found"],
        "train_differs": row["train"] != row["paper_train"],
        "test_differs": row["test"] != row["paper_test"],
        "latest_url": latest[0],
        "latest_label": latest[1],
    }


def suite_run_json(run: SuiteRun) -> dict:
    counts: dict[str, int] = {}
    for r in run.log:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {
        "id": run.pk,
        "status": run.status,
        "active": run.is_active,
        "error": run.error,
        "counts": counts,
        "problems": [r for r in run.log if r["status"] in ("skipped", "failed")],
    }


def suite_snapshot(owner, run: SuiteRun | None) -> dict:
    """Everything the suite page redraws: what its socket sends on connect and after each entry
    (the whole of it each time: it is small, and then a lost message costs nothing)."""
    rows = [suite_row_json(r) for r in suite_rows(owner)]
    return {
        "type": "snapshot",
        "run": suite_run_json(run) if run else None,
        "rows": rows,
        "created": sum(1 for r in rows if r["dataset_url"]),
    }


def baseline_rows(search: Search) -> list[dict]:
    """The search's baselines, M-Net first, with parameter efficiency against the found net."""
    found = search.best.params if search.best else None
    order = {n: i for i, n in enumerate(BaselineRun.NAMES)}
    rows = []
    for run in sorted(search.baselines.all(), key=lambda r: order.get(r.name, 99)):
        m = run.metrics or {}
        params = m.get("params")
        rows.append(
            {
                "id": run.pk,
                "name": run.name,
                "label": BaselineRun.LABELS.get(run.name, run.name),
                "status": run.status,
                "test_acc": m.get("test_acc"),
                "train_acc": m.get("train_acc"),
                "params": params,
                "macs": m.get("macs"),
                "epochs": m.get("epochs"),
                "seconds": m.get("seconds"),
                "device": m.get("device", ""),
                "image_size": m.get("image_size"),
                "efficiency": (params / found) if params and found else None,
                "progress": run.progress or {},
                "error": run.error,
                "active": run.is_active,
            }
        )
    return rows
