"""A finished search's one headline result and its deploy card.

``headline`` is the accuracy of the file the user downloads for their board, with its interval;
every page that shows a search's accuracy (list, search page, compare, baselines, report) takes
it from here. ``deploy`` is the card beside it: RAM and flash against the board's budget, the
recommended file and the others under plain names.
"""

from __future__ import annotations

from django.urls import reverse

from .models import Search
from .nas.stats import wilson
from .nas.targets import board

# Plain names of the files a search hands over (download kind: name), in the "All files" list
PLAIN_NAMES = {
    "int8_tflite": "Model for microcontrollers (int8 .tflite)",
    "arduino": "Arduino library (.zip)",
    "c_source": "C array for firmware (model_data.cc)",
    "c_header": "C header for firmware (model_data.h)",
    "int8_onnx": "Smaller model for PCs (int8 .onnx)",
    "onnx": "Model for PCs and phones (.onnx)",
    "pt": "PyTorch weights (.pt)",
    "json": "Everything measured (result.json)",
}


def _board(search: Search):
    return board(str((search.settings or {}).get("target") or "none"))


def _int8_export(exports: dict) -> tuple[str, dict] | None:
    """The int8 .tflite's scored entry: TFLM's own score when it has one, else the .tflite's."""
    for name in ("tflm", "int8_tflite"):
        e = exports.get(name)
        if isinstance(e, dict) and e.get("test_acc") is not None and not e.get("error"):
            return name, e
    return None


def _wilson_of(acc: float, n: int | None) -> list[float] | None:
    """The 95% interval of an accuracy measured on the n test images (a result without one)."""
    return wilson(round(acc * n / 100.0), n) if n else None


def headline(search: Search) -> dict | None:
    """{"acc", "ci95", "file", "label"} of the file the user downloads, or None before any
    candidate has a test accuracy. With a board and an int8 export: the int8 .tflite's test
    accuracy (the microcontroller runtime's, exports.tflm, when measured); else the final float
    model's; else the chosen candidate's."""
    exports = search.exports or {}
    found = _int8_export(exports) if _board(search) else None
    if found:
        name, e = found
        where = "run in TensorFlow Lite Micro" if name == "tflm" else "int8 .tflite"
        ci95 = e.get("test_ci95") or _wilson_of(float(e["test_acc"]), search.dataset.num_test)
        return {"acc": float(e["test_acc"]), "ci95": ci95, "file": "int8_tflite",
                "label": f"test accuracy of the model for the board ({where})"}  # fmt: skip
    final = search.final or {}
    if final.get("test_acc") is not None:
        file = "onnx" if (search.outputs or {}).get("onnx") else "pt"
        return {"acc": float(final["test_acc"]), "ci95": final.get("test_ci95"), "file": file,
                "label": "test accuracy of the final model"}  # fmt: skip
    best = search.best
    if best is None or best.test_acc is None:
        return None
    return {"acc": float(best.test_acc), "ci95": (best.record or {}).get("test_ci95"),
            "file": "onnx" if (search.outputs or {}).get("onnx") else "pt",
            "label": "test accuracy of the chosen candidate (no final training)"}  # fmt: skip


def _bar(label: str, used_kb: float | None, budget_kb: float | None, source: str) -> dict | None:
    if used_kb is None:
        return None
    used_kb = float(used_kb)
    fits = None if not budget_kb else used_kb <= budget_kb
    share = min(100.0, 100.0 * used_kb / budget_kb) if budget_kb else None
    return {"label": label, "used_kb": round(used_kb, 1), "budget_kb": budget_kb,
            "fits": fits, "percent": share, "source": source}  # fmt: skip


def memory_bars(search: Search, limits: dict) -> list[dict]:
    """RAM and flash the model needs against the board's budget (or the search's own limits):
    RAM from TFLM's measured arena (exports.tflm.arena_bytes) when present, else the chosen
    candidate's estimate; flash from the candidate's estimate (the .tflite plus TFLM's code).
    `limits`: the search's budget (serializers.budget_limits)."""
    best = search.best
    tflm = (search.exports or {}).get("tflm")
    arena = tflm.get("arena_bytes") if isinstance(tflm, dict) else None
    if arena:
        ram = _bar("RAM", arena / 1024, limits.get("ram_kb"), "measured: TFLM's tensor arena")
    else:
        ram = _bar("RAM", best and best.ram_kb, limits.get("ram_kb"), "the search's estimate")
    flash = _bar("Flash", best and best.flash_kb, limits.get("flash_kb"), "the search's estimate")
    return [b for b in (ram, flash) if b]


def deploy(search: Search, urls: dict, limits: dict) -> dict | None:
    """The deploy card of a finished search: board, memory bars and whether all fit, the
    recommended file as {"kind", "name", "url"}, the other files, and the download-all URL.
    `urls`: its downloads by kind, `limits`: its budget (serializers.downloads, budget_limits)."""
    if search.status != Search.Status.FINISHED:
        return None
    b = _board(search)
    order = ("arduino", "int8_tflite") if b else ("onnx", "pt")
    pick = next((k for k in order if k in urls), next(iter(urls), None))
    files = [{"kind": k, "name": PLAIN_NAMES.get(k, k), "url": u} for k, u in urls.items()]
    bars = memory_bars(search, limits)
    verdicts = [x["fits"] for x in bars if x["fits"] is not None]
    return {
        "board": b.label if b else "",
        "bars": bars,
        "fits": all(verdicts) if verdicts else None,
        "primary": next((f for f in files if f["kind"] == pick), None),
        "others": [f for f in files if f["kind"] != pick],
        "all_url": reverse("searchapp-download", args=[search.pk, "all"]) if urls else "",
    }
