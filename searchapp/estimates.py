"""How long a search may take, in wall-clock time: the cost bound's trainings x the workers'
measured speed (no torch; plain arithmetic over finished candidates' records).

Speed is seconds per epoch per training image, the median over the latest finished candidates
(the user's own first, else anyone's: the same workers train them all). A search's time bound is
that speed x the training images x (epochs x the most candidates x folds + the final training's
epochs), the same trainings the cost bound counts. Like that bound it is an upper estimate: a
real search stops early and most candidates are smaller than the largest.
"""

from __future__ import annotations

from statistics import median

from searchapp.nas.cost import Cost
from searchapp.nas.settings import SettingError

from .models import Candidate, Search
from .quotas import search_cost

SPEED_SAMPLE = 50
"""The latest finished candidates whose speed is measured."""


def measured_speed(user) -> float | None:
    """Seconds per epoch per training image on the workers; None before any measurement."""
    done = Candidate.objects.filter(status="ok", epochs__gt=0, seconds__gt=0)
    done = done.filter(search__dataset__num_train__gt=0).select_related("search__dataset")
    for rows in (done.filter(search__owner=user), done):
        rows = list(rows.order_by("-pk")[:SPEED_SAMPLE])
        if rows:
            return median(c.seconds / (c.epochs * c.search.dataset.num_train) for c in rows)
    return None


def bound_seconds(cost: Cost, speed: float | None) -> float | None:
    """The longest the search of `cost` may take at `speed` (None: no measurement yet)."""
    if speed is None:
        return None
    trainings = cost.epochs * cost.candidates * cost.folds + cost.final_epochs
    return speed * cost.images * trainings


def about(seconds: float | None) -> str:
    """'about 6 min', 'about 2 h 10 min', 'under a minute'; '' for None."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"about {round(hours / 24)} days"
    return f"about {hours} h" + (f" {rest} min" if rest and hours < 10 else "")


def time_text(cost: Cost, speed: float | None) -> str:
    """The time bound as the new-search page says it."""
    if speed is None:
        return "no measurement yet"
    return "at most " + about(bound_seconds(cost, speed))


def searches_ahead(search: Search) -> int:
    """The owner's searches that start before this queued one (one runs at a time per user)."""
    if search.status != Search.Status.QUEUED:
        return 0
    mine = Search.objects.filter(owner_id=search.owner_id, status__in=Search.ACTIVE)
    return mine.filter(created__lt=search.created).exclude(pk=search.pk).count()


STEPS = (
    ("depth", "Depth"),
    ("width", "Width"),
    ("op", "Operations"),
    ("kernel", "Kernels"),
    ("final", "Final training"),
    ("export", "Export"),
)
"""The phases a search goes through, in order, as the search page's stepper names them."""


def steps(phase: str, status: str) -> list[dict]:
    """The stepper: each phase with its state, "done", "current" or "todo"."""
    names = [name for name, _ in STEPS]
    if status == Search.Status.FINISHED or phase == "done":
        at = len(names)
    else:
        at = names.index(phase) if phase in names else (-1 if status == "queued" else 0)
    return [
        {"name": name, "label": label, "state": _state(i, at)}
        for i, (name, label) in enumerate(STEPS)
    ]


def _state(i: int, at: int) -> str:
    return "done" if i < at else "current" if i == at else "todo"


def progress_context(search: Search, candidates: list[dict], cost: Cost | None) -> dict:
    """What the search page's progress box shows, server-rendered (search.js keeps it live):
    the stepper, the candidates done against the bound, the measured seconds per candidate."""
    done = [c for c in candidates if c.get("status") != "over_budget"]
    seconds = [c["seconds"] for c in done if c.get("seconds")]
    per_epoch = [c["seconds"] / c["epochs"] for c in done if c.get("seconds") and c.get("epochs")]
    bound = cost.candidates if cost else None
    searching = search.phase in ("", *(name for name, _ in STEPS[:4]))
    per_candidate = sum(seconds) / len(seconds) if seconds else None
    per_epoch = sum(per_epoch) / len(per_epoch) if per_epoch else None
    left = None
    if per_candidate is not None and per_epoch is not None and bound:
        final = per_epoch * (cost.final_epochs if search.phase != "export" else 0)
        left = per_candidate * max(0, bound - len(candidates)) * searching + final
    return {
        "current": len(done),  # trained: an over-budget candidate never is
        "speculative": any(c.get("speculative") for c in candidates),
        "over_budget": any(c.get("status") == "over_budget" for c in candidates),
        "left": left,
        "left_text": about(left) if left is not None else "",
        "steps": steps(search.phase, search.status),
        "max_candidates": bound,
        "final_epochs": cost.final_epochs if cost else 0,
        "candidate_seconds": per_candidate,
        "epoch_seconds": per_epoch,
        "ahead": searches_ahead(search),
        "started": search.started.isoformat() if search.started else "",
        "elapsed": search.duration,
    }


PRESETS = {
    "quick": {
        "label": "Quick",
        "text": "10 epochs per candidate, 3 to 8 layers, one validation split",
        "settings": {"epochs": 10, "min_depth": 3, "max_depth": 8, "folds": "1"},
    },
    "balanced": {
        "label": "Balanced",
        "text": "the recipe's 30 epochs, 3 to 15 layers (the paper's), folds chosen by size",
        "settings": {"epochs": None, "min_depth": 3, "max_depth": 15, "folds": "auto"},
    },
    "thorough": {
        "label": "Thorough",
        "text": "60 epochs per candidate, 3 to 15 layers, folds chosen by size",
        "settings": {"epochs": 60, "min_depth": 3, "max_depth": 15, "folds": "auto"},
    },
}
"""The effort choices of the new-search form: the settings each one sets."""
DEFAULT_PRESET = "balanced"  # the engine's defaults


def preset_of(values: dict) -> str:
    """The preset whose settings `values` has (``custom`` for none)."""
    for name, preset in PRESETS.items():
        if all(_same(values.get(k), v) for k, v in preset["settings"].items()):
            return name
    return "custom"


def _same(a, b) -> bool:
    return (a in (None, "") and b is None) or str(a) == str(b)


def preset_times(dataset, config: dict, speed: float | None) -> dict:
    """Each preset's time bound on `dataset`, the other settings as in `config`
    (SearchConfig.to_dict()): {name: {"time": text, "seconds": s or None, "candidates": n}}."""
    out = {}
    for name, preset in PRESETS.items():
        try:
            cost = search_cost(dataset, config | preset["settings"])
        except SettingError as exc:
            out[name] = {"time": f"not with these settings ({exc})", "seconds": None}
            continue
        out[name] = {
            "time": time_text(cost, speed),
            "seconds": bound_seconds(cost, speed),
            "candidates": cost.candidates,
        }
    return out
