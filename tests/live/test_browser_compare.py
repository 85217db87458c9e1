"""The compare page in a real Chromium: two finished searches on one chart, their Table-1 tables
side by side, no console errors; the search page's chart and the report's "chosen on" column from
the same two searches.

The stack (Redis, the web server, a SQLite file) runs in subprocesses (tests/live/live_stack.py);
the two searches are written into its database by `manage.py shell` with tests/builders.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.live_stack import CHROMIUM, create_user, launch_chromium, live_stack, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

USER, PASSWORD = "dora", "dora-compare-password"

# Two finished searches of USER on two datasets: 2 candidates (L3 C8) and 3 candidates (L4 C16).
MAKE_SEARCHES = """
from django.contrib.auth import get_user_model
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_finished_search, make_imagedata
u = get_user_model().objects.get(username=USERNAME)
pets = create_dataset_from_imagedata(u, "pets", make_imagedata(), source="generated")
birds = create_dataset_from_imagedata(
    u, "birds", make_imagedata(("owl", "tit", "wren")), source="generated"
)
a = make_finished_search(u, pets, (70.0, 75.0), depth=3, width=8, params=4000, final_acc=78.0)
b = make_finished_search(u, birds, (60.0, 66.0, 71.5), depth=4, width=16, params=9000,
                         select_on="test")
print(a.pk, b.pk)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("compare"), worker=False) as s:
        create_user(s, USER, PASSWORD)
        yield s


@pytest.fixture(scope="module")
def two(stack) -> tuple[int, int]:
    out = stack.manage("shell", "-c", MAKE_SEARCHES.replace("USERNAME", repr(USER)))
    a, b = (int(v) for v in out.strip().splitlines()[-1].split())
    return a, b


def _watch(page, problems: list[str]) -> None:
    """Console errors, uncaught exceptions and failed requests of `page` go to `problems`."""
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))


def test_the_compare_page_draws_both_searches_on_one_chart(stack, two):
    from playwright.sync_api import sync_playwright

    a, b = two
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            _watch(page, problems)
            sign_in(page, stack.url, USER, PASSWORD)
            response = page.goto(f"{stack.url}/searches/compare/?ids={a}&ids={b}")
            assert response is not None and response.status == 200
            page.wait_for_function(
                "() => window.Chart && Chart.getChart(document.getElementById('compare-chart'))",
                timeout=15_000,
            )
            chart = page.evaluate(
                """() => {
                  const canvas = document.getElementById('compare-chart');
                  const c = Chart.getChart(canvas);
                  return {
                    type: c.config.type,
                    width: canvas.width, height: canvas.height,
                    x: c.scales.x.type,
                    plugins: (c.config.plugins || []).map((p) => p.id),
                    y: [c.scales.y.min, c.scales.y.max],
                    datasets: c.data.datasets.map((d) => ({
                      label: d.label,
                      points: d.data.map((p) => [p.x, p.y, p.index, p.arch, p.accepted, p.ci]),
                      drawn: c.getDatasetMeta(d === c.data.datasets[0] ? 0 : 1).data.length,
                    })),
                  };
                }"""
            )
            assert chart["type"] == "scatter" and chart["x"] == "logarithmic"
            assert "errorBars" in chart["plugins"]  # each point's 95% interval is drawn
            low, high = chart["y"]
            assert low <= 51.0 and high >= 82.0  # the y-axis holds every interval, not only points
            assert chart["width"] > 100 and chart["height"] > 100  # laid out, not collapsed
            first, second = chart["datasets"]
            assert first["label"] == f"Search {a} (pets)"
            assert second["label"] == f"Search {b} (birds)"
            assert first["points"] == [
                [4000, 70.0, 0, "L3 C8 s3 s3 s3", True, [61.0, 77.0]],
                [4100, 75.0, 1, "L3 C8 s3 s3 s3", True, [66.0, 82.0]],
            ]
            assert [pt[:3] + pt[4:] for pt in second["points"]] == [
                [9000, 60.0, 0, True, [51.0, 67.0]],
                [9100, 66.0, 1, False, [57.0, 73.0]],  # rejected: a circle, not a star
                [9200, 71.5, 2, True, [62.5, 78.5]],
            ]
            assert (first["drawn"], second["drawn"]) == (2, 3)  # every point has an element

            # the Table-1 tables, side by side (one row per layer plus the head and tail)
            tables = page.evaluate(
                """() => [...document.querySelectorAll('#compare-tables > section')].map((s) => {
                  const box = s.getBoundingClientRect();
                  return {id: s.dataset.id, left: box.left, top: box.top, width: box.width,
                          rows: s.querySelectorAll('tbody tr').length,
                          title: s.querySelector('h3').textContent.trim()};
                })"""
            )
            assert [int(t["id"]) for t in tables] == [a, b]
            left, right = tables
            assert right["left"] >= left["left"] + left["width"] - 1  # beside, not below
            assert abs(right["top"] - left["top"]) < 2
            assert right["rows"] > left["rows"] >= 3  # L4 has one layer more than L3
            assert "75.00" in left["title"] and "71.50" in right["title"]

            summary = page.inner_text("#compare-summary")
            assert "pets" in summary and "birds" in summary
            assert "78.00" in summary  # the final model's accuracy of search a
            chosen = page.eval_on_selector_all(
                "#compare-summary td.split", "(cells) => cells.map((c) => c.textContent)"
            )
            assert chosen == ["validation", "test, as the paper does"]
            page.screenshot(path=str(_screenshots() / "compare.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []


def test_the_search_page_chart_holds_every_interval(stack, two):
    """The search page draws its chart with the same shared module (static/js/chart.js)."""
    from playwright.sync_api import sync_playwright

    a, _ = two
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            _watch(page, problems)
            sign_in(page, stack.url, USER, PASSWORD)
            page.goto(f"{stack.url}/searches/{a}/")
            page.wait_for_function(
                """() => {
                  const c = window.Chart && Chart.getChart(document.getElementById('candidates-chart'));
                  return c && c.data.datasets.some((d) => d.data.length === 2);
                }""",
                timeout=15_000,
            )
            chart = page.evaluate(
                """() => {
                  const c = Chart.getChart(document.getElementById('candidates-chart'));
                  return {plugins: (c.config.plugins || []).map((p) => p.id),
                          y: [c.scales.y.min, c.scales.y.max],
                          cis: c.data.datasets.filter((d) => d.label !== 'trade-off front')
                                .flatMap((d) => d.data.map((p) => p.ci))};
                }"""
            )
            assert "errorBars" in chart["plugins"]
            assert chart["cis"] == [[61.0, 77.0], [66.0, 82.0]]
            assert chart["y"][0] <= 61.0 and chart["y"][1] >= 82.0
            page.click("#summary-details summary")
            assert page.inner_text("#summary-split").startswith("validation split")  # chosen on
        finally:
            browser.close()
    assert problems == []


def test_the_report_says_which_split_chose_each_architecture(stack, two):
    from playwright.sync_api import sync_playwright

    a, b = two
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            _watch(page, problems)
            sign_in(page, stack.url, USER, PASSWORD)
            page.goto(f"{stack.url}/report/")
            page.wait_for_function(
                "() => window.Chart && Chart.getChart(document.getElementById('cost-chart'))",
                timeout=15_000,
            )
            split = {
                int(row.get_attribute("data-search")): row.inner_text()
                for row in page.query_selector_all("#report-table tbody tr")
            }
            assert "chosen on validation" in split[a]
            assert "chosen on test, as the paper does" in split[b]
            assert "1 of 2 architectures chosen on validation" in page.inner_text(
                "#report-split-note"
            )
            assert "final 78" in split[a]  # the final model's accuracy beside the search's
            page.screenshot(path=str(_screenshots() / "report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []


def _screenshots() -> Path:
    folder = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
