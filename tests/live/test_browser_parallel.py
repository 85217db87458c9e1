"""The live page of a parallel search in a real Chromium: several candidates in flight at once
(each with its worker and epoch), a candidate finished twice (trained ahead, then judged) drawn
once, and the panel as the server renders it after a reload. Events come from the worker's own
recorder (EventRecorder) through the real Redis and socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.live_stack import CHROMIUM, create_user, launch_chromium, live_stack, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]
USER, PASSWORD = "dora", "dora-browser-password"
SETUP = """
from django.contrib.auth import get_user_model
from searchapp.models import Search
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_imagedata
u = get_user_model().objects.get(username=USERNAME)
d = create_dataset_from_imagedata(u, "parallel", make_imagedata(), source="generated")
s = Search.objects.create(owner=u, dataset=d, settings={"max_ram_kb": 300}, status="running",
                          phase="depth")
print(s.pk)
"""
ARCH = '{"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}'
STARTED = f"""
from searchapp.tasks.search import EventRecorder
rec = EventRecorder(SEARCH_ID)
for i in range(3):
    rec({{"type": "candidate.started", "index": i, "phase": "depth", "arch": {ARCH},
         "params": 100 + i, "macs": 1000, "ram_kb": 10.0 + i, "flash_kb": 20.0, "worker": f"w{{i}}"}})
rec({{"type": "candidate.epoch", "index": 1, "epoch": 2, "epochs": 4, "loss": 0.5}})
rec({{"type": "candidate.epoch", "index": 0, "epoch": 1, "epochs": 4, "loss": 0.7}})
"""
FINISHED = f"""
from searchapp.tasks.search import EventRecorder
rec = EventRecorder(SEARCH_ID)
c = {{"index": 1, "phase": "depth", "arch": {ARCH}, "params": 101, "macs": 1000, "ram_kb": 11.0,
     "flash_kb": 20.0, "test_acc": 66.0, "status": "ok", "worker": "w1", "epochs": 4}}
rec({{"type": "candidate.finished", "candidate": c | {{"reason": "trained ahead; waiting for its turn"}}}})
rec({{"type": "candidate.finished", "candidate": c | {{"speculative": True, "reason": "not needed"}}}})
rec({{"type": "candidate.finished", "candidate": {{"index": 3, "phase": "depth", "arch": {ARCH},
     "params": 900, "macs": 1000, "ram_kb": 512.0, "flash_kb": 20.0, "status": "over_budget",
     "reason": "peak RAM 512.0 KB > 300 KB"}}}})
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("parallel"), worker=False) as running:
        create_user(running, USER, PASSWORD)
        yield running


def flight(page) -> list[str]:
    return [t.split("\t") for t in page.locator("#in-flight-table tbody tr").all_inner_texts()]


def test_candidates_in_flight_and_a_candidate_finished_twice(stack):
    from playwright.sync_api import sync_playwright

    out = stack.manage("shell", "-c", SETUP.replace("USERNAME", repr(USER)))
    search_id = int(out.strip().splitlines()[-1])
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            sign_in(page, stack.url, USER, PASSWORD)
            page.goto(f"{stack.url}/searches/{search_id}/")
            page.wait_for_selector("#live-state.on")
            assert page.locator("#in-flight").is_hidden()
            page.evaluate("window.__sameDocument = true")

            stack.manage("shell", "-c", STARTED.replace("SEARCH_ID", str(search_id)))
            page.wait_for_function(
                "document.querySelectorAll('#in-flight-table tbody tr').length === 3"
            )
            page.wait_for_function(
                "document.querySelector('#in-flight-table tr[data-index=\"0\"]')"
                ".textContent.includes('epoch 1/4')"
            )
            live = flight(page)
            assert [(r[0], r[4], r[5]) for r in live] == [
                ("0", "w0", "epoch 1/4"),
                ("1", "w1", "epoch 2/4"),
                ("2", "w2", "starting"),
            ]
            assert "3 candidates training now" in page.inner_text("#in-flight-count")

            stack.manage("shell", "-c", FINISHED.replace("SEARCH_ID", str(search_id)))
            page.wait_for_function(
                "document.querySelectorAll('#candidates-table tbody tr[data-index]').length === 2"
                " && document.querySelector('#candidates-table tr[data-index=\"1\"]')"
                ".classList.contains('speculative')"
            )
            assert page.evaluate("window.__sameDocument") is True  # drawn live, not reloaded
            rows = page.eval_on_selector_all(
                "#candidates-table tbody tr[data-index]", "rs => rs.map(r => r.dataset.index)"
            )
            assert rows == ["1", "3"]  # candidate 1 once, though it finished twice
            assert "speculative" in page.inner_text('#candidates-table tr[data-index="1"]')
            over = page.inner_text('#candidates-table tr[data-index="3"]')
            assert "over budget" in over and "peak RAM 512.0 KB > 300 KB" in over
            chart = page.evaluate(
                "(() => { const c = Chart.getChart('candidates-chart');"
                " return c.data.datasets.filter(ds => ds.label !== 'trade-off front')"
                " .map(ds => [ds.label, ds.data.length"
                " + (ds.marks ? ds.marks.length : 0)]); })()"
            )
            assert dict(chart)["speculative"] == 1 and sum(n for _, n in chart) == 2
            assert [r[0] for r in flight(page)] == ["0", "2"]
            page.select_option("#chart-axis", "ram_kb")
            assert "RAM" in page.inner_text("#chart-axis-name")

            # a reload draws the same panel from the database
            page.reload()
            page.wait_for_selector("#live-state.on")
            assert [(r[0], r[4], r[5]) for r in flight(page)] == [
                ("0", "w0", "epoch 1/4"),
                ("2", "w2", "starting"),
            ]
            assert page.input_value("#chart-axis") == "ram_kb"  # remembered
            assert not errors
        finally:
            browser.close()
