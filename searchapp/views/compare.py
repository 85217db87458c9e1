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


def compare_problem(raw: list[str], ids: list[int]) -> str:
    """Why the asked-for ids cannot be compared ("" when they can be looked up)."""
    if len(ids) != len(set(raw)):
        return "Searches are picked by their numbers (?ids=1&ids=2)."
    if len(ids) < 2:
        return "Pick at least two searches to compare."
    if len(ids) > COMPARE_MAX:
        return f"At most {COMPARE_MAX} searches can be compared at once."
    return ""


@login_required
@require_GET
def search_compare(request):
    """Two or more finished searches of the user side by side (?ids=1&ids=2)."""
    raw = request.GET.getlist("ids")
    ids = list(dict.fromkeys(i for i in map(parse_id, raw) if i is not None))
    if not raw:  # nothing asked yet: how to ask
        return render(request, "searchapp/compare.html", {"problem": "", "entries": []})
    problem = compare_problem(raw, ids)
    rows = []
    if not problem:
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
    if problem:
        return render(request, "searchapp/compare.html", {"problem": problem}, status=400)
    entries = [compare_json(s) for s in rows]
    return render(request, "searchapp/compare.html", {"entries": entries, "chart": entries})
