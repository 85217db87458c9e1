"""The report: each search's cost and accuracy beside the paper's, as a page, CSV and JSON."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from searchapp import report
from searchapp.params import parse_id


def _report_rows(request) -> tuple[list[dict], dict]:
    suite_only = request.GET.get("suite") in ("1", "on", "true", "yes")
    ids = [i for i in map(parse_id, request.GET.getlist("search")) if i is not None]
    searches = report.select_searches(request.user, suite_only=suite_only, ids=ids or None)
    params = {"suite": suite_only, "ids": ids}
    return report.report_rows(searches), params


@login_required
@require_GET
def report_page(request):
    rows, params = _report_rows(request)
    query = request.GET.urlencode()
    chart = {
        "labels": [r["dataset"] for r in rows],
        "hours": [r["cost_hours"] for r in rows],
        "paper": [r["paper_gpu_hours"] for r in rows],
        "unit": report.cost_unit(rows),
    }
    ctx = {
        "rows": rows,
        "summary": report.summary(rows),
        "cost_unit": report.cost_unit(rows),
        "notes": report.NOTES,
        "suite_only": params["suite"],
        "query": f"?{query}" if query else "",
        "chart": chart,
    }
    return render(request, "searchapp/report.html", ctx)


@login_required
@require_GET
def report_csv(request):
    rows, _ = _report_rows(request)
    response = HttpResponse(report.to_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mininas-report.csv"'
    return response


@login_required
@require_GET
def report_json(request):
    rows, _ = _report_rows(request)
    return HttpResponse(json.dumps(report.to_json(rows), indent=1), content_type="application/json")
