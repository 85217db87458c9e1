"""Finished searches of the user side by side."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from searchapp.models import Search
from searchapp.params import parse_id
from searchapp.serializers import compare_json

COMPARE_MAX = 6
COMPARE_MIN = 2
PICK_LIMIT = 100
"""The most finished searches the compare page offers to tick (newest first)."""


def compare_problem(raw: list[str], ids: list[int]) -> str:
    """Why the asked-for ids cannot be compared ("" when they can be looked up)."""
    if len(ids) != len(set(raw)):
        return "Searches are picked by their numbers (?ids=1&ids=2)."
    if len(ids) > COMPARE_MAX:
        return f"At most {COMPARE_MAX} searches can be compared at once."
    return ""


def pick_page(request, picked: list[int], problem: str = "", status: int = 200):
    """The user's finished searches to tick, `picked` ticked already: the page for a pick of
    fewer than two searches (or none yet), and for a pick that cannot be compared."""
    finished = (
        Search.objects.filter(owner=request.user, status=Search.Status.FINISHED)
        .exclude(best=None)
        .select_related("dataset", "best")
        .order_by("-finished", "-pk")[:PICK_LIMIT]
    )
    rows = list(finished)
    ticked = [s.pk for s in rows if s.pk in set(picked)]
    ctx = {
        "problem": problem,
        "entries": [],
        "pick": rows,
        "ticked": ticked,
        "compare_min": COMPARE_MIN,
        "compare_max": COMPARE_MAX,
    }
    return render(request, "searchapp/compare.html", ctx, status=status)


@login_required
@require_GET
def search_compare(request):
    """Two or more finished searches of the user side by side (?ids=1&ids=2)."""
    raw = request.GET.getlist("ids")
    ids = list(dict.fromkeys(i for i in map(parse_id, raw) if i is not None))
    problem = compare_problem(raw, ids)
    if problem:
        return pick_page(request, ids, problem, status=400)
    if len(ids) < COMPARE_MIN:  # nothing or one picked yet: not an error, a pick to finish
        return pick_page(request, ids)
    found = {
        s.pk: s
        for s in Search.objects.filter(owner=request.user, pk__in=ids).select_related(
            "dataset", "best"
        )
    }
    if len(found) != len(ids):
        raise Http404("no such search")
    rows = [found[i] for i in ids]
    unfinished = [s.pk for s in rows if s.status != Search.Status.FINISHED or not s.best_id]
    if unfinished:
        problem = "Only finished searches can be compared; not finished: " + ", ".join(
            f"search {pk}" for pk in unfinished
        )
        return pick_page(request, ids, problem, status=400)
    entries = [compare_json(s) for s in rows]
    return render(request, "searchapp/compare.html", {"entries": entries, "chart": entries})
