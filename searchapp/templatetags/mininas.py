"""How pages show values: each filter has a namesake in static/js/format.js that gives the same
text, so that server-rendered rows and rows rendered from socket events look alike."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

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


@register.filter
def progress(p) -> str:
    """A search's progress: 'Candidate 3 (depth): epoch 2/5, test 61.25%'."""
    if not p or _missing(p.get("index")):
        return "waiting for the worker…"
    epoch = f"epoch {p.get('epoch') or 0}/{p.get('epochs') or '?'}"
    return f"Candidate {p['index']} ({p.get('phase') or ''}): {epoch}{_test_acc(p)}"


@register.filter
def score(c) -> str:
    """A candidate's size and accuracy: '12,345 params · 71.25%', or a dash."""
    return f"{num(c['params'])} params · {pct(c['test_acc'])}" if c else DASH


@register.filter
def counts(c) -> str:
    """{"created": 21, "skipped": 10} -> '21 created, 10 skipped'."""
    return ", ".join(f"{n} {k}" for k, n in (c or {}).items())


@register.filter
def problem(p) -> str:
    """A suite entry that was not made: 'CIFAR-10: skipped — why'."""
    return f"{p['name']}: {p['status']} — {p['message']}" if p else ""
