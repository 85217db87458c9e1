"""How pages show values: each filter a script also needs has a namesake in static/js/format.js
that gives the same text, so that server-rendered rows and rows rendered from socket events look
alike."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from searchapp.nas.config import PAPER_SPLIT, SPLIT_NOTES
from searchapp.nas.config import chosen_on as _chosen_on

register = template.Library()

DASH = "–"


def _missing(value) -> bool:
    return value is None or value == ""


def _fixed(value, digits: int) -> str:
    """Half up on the exact binary value, as JavaScript's toFixed rounds."""
    return str(Decimal(float(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


def _round(value) -> int:
    return int(_fixed(value, 0))


@register.filter
def dash(value) -> str:
    return DASH if _missing(value) else str(value)


@register.filter
def num(value) -> str:
    """12345 -> '12,345', or a dash."""
    return DASH if _missing(value) else f"{_round(value):,}"


@register.filter
def pct(value) -> str:
    """An accuracy in percent points with two decimals, or a dash."""
    return DASH if _missing(value) else f"{_fixed(value, 2)}%"


@register.filter
def times(value) -> str:
    """A ratio such as a parameter efficiency: '111.8×', or a dash."""
    return f"{_fixed(value, 1)}×" if value else DASH


@register.filter
def px(value) -> str:
    """An input size after a device name: ' · 224 px', or nothing."""
    return f" · {value} px" if value else ""


@register.filter
def clip(value) -> str:
    """Long text (an error) cut to 300 characters."""
    s = "" if _missing(value) else str(value)
    return s[:299] + "…" if len(s) > 300 else s


@register.filter
def seconds(value) -> str:
    """4.26 -> '4.3s', 12.3 -> '12s', 754 -> '12m 34s', 7260 -> '2h 01m'."""
    if _missing(value):
        return DASH
    if float(value) < 10:
        return f"{_fixed(value, 1)}s"
    s = _round(value)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _test_acc(p: dict) -> str:
    return "" if _missing(p.get("test_acc")) else f", test {pct(p['test_acc'])}"


@register.filter
def epochs(p) -> str:
    """A baseline's last epoch report: 'epoch 2/5, test 61.25%', or nothing."""
    if not p or not p.get("epoch"):
        return ""
    return f"epoch {p['epoch']}/{p.get('epochs')}{_test_acc(p)}"


def _epoch_text(p: dict) -> str:
    """'epoch 2/5'; 'epoch 2' before the total is known; 'starting…' before the first epoch."""
    if not p.get("epoch"):
        return "starting…"
    return f"epoch {p['epoch']}/{p['epochs']}" if p.get("epochs") else f"epoch {p['epoch']}"


@register.filter
def progress(p) -> str:
    """A search's progress: 'Training #3 (depth): epoch 2/5, test 61.25%' (# as in the table)."""
    epoch = _epoch_text(p) if p else ""
    if p and p.get("phase") == "final":
        return f"Final training of the chosen network: {epoch}"
    if not p or _missing(p.get("index")):
        return "waiting for the worker…"
    val = "" if _missing(p.get("val_acc")) else f", validation {pct(p['val_acc'])}"
    return f"Training #{p['index']} ({p.get('phase') or ''}): {epoch}{val}{_test_acc(p)}"


@register.filter
def score(c) -> str:
    """A candidate's size and its own test accuracy in the search: '12,345 params · test 71.25%
    in the search' (the headline result, once there is one, is the file's), or a dash."""
    return f"{num(c['params'])} params · test {pct(c['test_acc'])} in the search" if c else DASH


@register.filter
def counts(c) -> str:
    """{"created": 21, "skipped": 10} -> '21 created, 10 skipped'."""
    return ", ".join(f"{n} {k}" for k, n in (c or {}).items())


@register.filter
def problem(p) -> str:
    """A suite entry that was not made: 'CIFAR-10: skipped — why'."""
    return f"{p['name']}: {p['status']} — {p['message']}" if p else ""


@register.filter
def ci(value) -> str:
    """A 95% interval [low, high] in percent: ' (95% CI 61.2–70.3)', or nothing without one."""
    if not isinstance(value, list | tuple) or len(value) != 2 or any(_missing(v) for v in value):
        return ""
    return f" (95% CI {_fixed(value[0], 1)}–{_fixed(value[1], 1)})"


@register.filter
def pctci(c, key: str = "test_acc") -> str:
    """An accuracy with its interval: '65.00% (95% CI 55.3–73.6)'; a dash without a record."""
    # "test_acc" -> its interval "test_ci95", "val_acc" -> "val_ci95" (the record's names)
    return f"{pct(c.get(key))}{ci(c.get(key.removesuffix('_acc') + '_ci95'))}" if c else DASH


@register.filter
def confidence(value) -> str:
    """A probability (0-1) as a confidence: '93% sure', or nothing."""
    return "" if _missing(value) else f"{_round(float(value) * 100)}% sure"


@register.filter
def split(value) -> str:
    """Which split chose the architecture: 'validation split (carved from the training images)'
    or 'test split (as the paper does)' (the notes are the engine's SPLIT_NOTES)."""
    return f"{value} split ({SPLIT_NOTES[value]})" if value in SPLIT_NOTES else DASH


@register.filter
def chosen_on(value) -> str:
    """The split that chose the architecture, short: 'validation' or 'test, as the paper does'
    (server-drawn tables only; a search from before the setting chose on test)."""
    return _chosen_on(value or PAPER_SPLIT)


@register.filter
def finalacc(f) -> str:
    """The final model's test accuracy with its interval, or a dash before (or without) one."""
    if not f or _missing(f.get("test_acc")):
        return DASH
    return f"{pct(f['test_acc'])}{ci(f.get('test_ci95'))}"


@register.filter
def valacc(c) -> str:
    """A candidate's validation accuracy with its interval (a dash when not scored on one)."""
    return pctci(c, "val_acc") if c and not _missing(c.get("val_acc")) else DASH


@register.filter
def kb(value) -> str:
    """An int8 size estimate: 12.345 -> '12.3 KB', or a dash (0 means unknown)."""
    return DASH if _missing(value) or float(value) == 0 else f"{_fixed(value, 1)} KB"


@register.filter
def candstatus(c) -> str:
    """A candidate's standing: 'ok', 'over budget', ... with ' · speculative' when trained ahead."""
    if not c:
        return DASH
    s = "" if _missing(c.get("status")) else str(c["status"]).replace("_", " ", 1)
    return f"{s} · speculative" if c.get("speculative") else s


@register.filter
def ms(value) -> str:
    """Milliseconds: 1.234 -> '1.23 ms', or a dash."""
    return DASH if _missing(value) else f"{_fixed(value, 2)} ms"


@register.filter
def filesize(value) -> str:
    """A byte count: '512 B', '2.0 KB', '3.0 MB', or a dash."""
    if _missing(value):
        return DASH
    n = float(value)
    if n < 1024:
        return f"{_round(n)} B"
    if n < 1024 * 1024:
        return f"{_fixed(n / 1024, 1)} KB"
    return f"{_fixed(n / (1024 * 1024), 1)} MB"


@register.filter
def epochof(p) -> str:
    """An in-flight candidate's epoch: 'epoch 2/5, test 61.25%', or 'starting'."""
    if not p:
        return DASH
    if not p.get("epoch"):
        return "starting"
    return f"{_epoch_text(p)}{_test_acc(p)}"


def _signed(value) -> str:
    """Points with a sign and one decimal: 2.46 -> '+2.5', -4.1 -> '-4.1' (-0 reads '+0.0')."""
    v = float(value) + 0.0
    return f"{'+' if v >= 0 else ''}{_fixed(v, 1)}"


def _has_evidence(e) -> bool:
    return isinstance(e, dict) and not _missing(e.get("diff"))


def _evidence_ci(e: dict) -> str:
    lo_hi = e.get("ci95")
    if not isinstance(lo_hi, list | tuple) or len(lo_hi) != 2 or any(map(_missing, lo_hi)):
        return ""
    return f" [{_signed(lo_hi[0])}, {_signed(lo_hi[1])}]"


@register.filter
def evidence(e) -> str:
    """A decision's evidence {vs, diff, ci95, n, method}, compact: '+2.5 [-4.1, +9.0] n=400', or
    nothing for a candidate that was not judged against another."""
    if not _has_evidence(e):
        return ""
    n = "" if _missing(e.get("n")) else f" n={num(e['n'])}"
    return f"{_signed(e['diff'])}{_evidence_ci(e)}{n}"


@register.filter
def evidencetip(e) -> str:
    """The same evidence in words, for its tooltip: 'vs #3: +2.5 points, 95% CI [-4.1, +9.0],
    on 400 images (paired bootstrap)'."""
    if not _has_evidence(e):
        return ""
    vs = "" if _missing(e.get("vs")) else f"vs #{e['vs']}: "
    ci95 = _evidence_ci(e)
    text = f"{vs}{_signed(e['diff'])} points" + (f", 95% CI{ci95}" if ci95 else "")
    text += "" if _missing(e.get("n")) else f", on {num(e['n'])} images"
    return text + ("" if _missing(e.get("method")) else f" ({e['method']})")
