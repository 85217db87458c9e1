"""The whole product in a real Chromium: sign in, upload a folder, run a search, watch it live,
download the weights, train the baselines and derive the paper's suite, each watched live.

The stack (Redis, the web server, an RQ worker, a SQLite file) runs in subprocesses of its own
(tests/live/live_stack.py); this process only drives the browser and reads the database file to time
each candidate's save. It also prints how long each finished candidate took to show up in the
page (p50/p95) and saves a screenshot to var/screenshots/search.png. Rows drawn live from socket
events are compared with the rows the server renders for the same page.
"""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live.image_folder import write_image_folder
from tests.live.live_stack import (
    CHROMIUM,
    create_user,
    launch_chromium,
    live_stack,
    sign_in,
    upload_folder,
)
from tests.web.derive_fixtures import place_cifar

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "carol", "carol-browser-password"
# 2 classes x (16 train + 6 test) images of 16x16 px; the search takes ~20-60 s on 2 CPU cores.
TINY_FORM = {"#id_max_depth": "4", "#id_min_width": "8", "#id_max_width": "16",
             "#id_width_step": "8", "#id_epochs": "4"}  # fmt: skip
TINY_FOLDS = "3"  # cross-validated like a user's small folder, at 3 trainings per candidate
SEARCH_TIMEOUT_MS = 900_000  # hang guards, not expectations: the tests wait for the page's events
BASELINES_TIMEOUT_MS = 900_000

# Runs in every page before its scripts: the time (and status) at which each candidate row first
# appears in the candidates table, and a marker that a reload would erase.
ROW_OBSERVER = """
window.__noReload = true;
window.__rows = {};
new MutationObserver((mutations) => {
  for (const m of mutations) for (const node of m.addedNodes) {
    if (node.nodeType !== 1 || node.tagName !== "TR" || !node.dataset.index) continue;
    if (!node.closest("#candidates-table") || node.dataset.index in window.__rows) continue;
    const status = document.getElementById("search-status");
    window.__rows[node.dataset.index] = {
      t: Date.now(),
      status: status ? status.textContent.trim() : "",
      live: window.miniNAS ? window.miniNAS.liveEvents : 0,
    };
  }
}).observe(document, { childList: true, subtree: true });
"""


# The candidates table's box (its width, and what it would need) and its rows' heights.
TABLE_FIT = """
(() => {
  const box = document.getElementById("candidates-box");
  const rows = [...document.querySelectorAll("#candidates-table tbody tr")];
  const heights = new Set(rows.map((r) => Math.round(r.getBoundingClientRect().height)));
  return { scroll: box.scrollWidth, client: box.clientWidth, heights: [...heights] };
})()
"""


class SaveTimes(threading.Thread):
    """Polls the SQLite file: when (epoch ms) each candidate was first seen finished."""

    def __init__(self, db: Path, every: float = 0.01):
        super().__init__(daemon=True)
        self.db, self.every = db, every
        self.seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            while not self.done.is_set():
                try:
                    rows = conn.execute(
                        "SELECT \"index\" FROM searchapp_candidate WHERE status != 'running'"
                    ).fetchall()
                except sqlite3.OperationalError:  # locked for a moment by the worker
                    rows = []
                now = time.time() * 1000
                for (index,) in rows:
                    self.seen.setdefault(index, now)
                time.sleep(self.every)
        finally:
            conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def row_texts(page, selector: str) -> list[str]:
    return page.locator(selector).all_inner_texts()


def server_rendered(browser, context, url: str, selectors: list[str]) -> list[list[str]]:
    """The texts of `selectors` in the page as the server renders it (no script runs)."""
    plain = browser.new_context(java_script_enabled=False, storage_state=context.storage_state())
    try:
        page = plain.new_page()
        page.goto(url)
        return [row_texts(page, s) for s in selectors]
    finally:
        plain.close()


@contextmanager
def worker_paused(stack):
    """The worker starts no job inside the block, so the page is drawn and live before it runs."""
    group = stack.children["worker"].pid  # its own session: the pid is the group's id
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def start_watching(page, click: str) -> None:
    """Click a button that posts and comes back to this page; wait until its socket is open."""
    with page.expect_navigation():
        page.click(click)
    page.wait_for_selector("#live-state.on", state="attached")  # a finished search hides the tag
    page.evaluate("window.__sameDocument = true")  # a reload would lose it


def assert_accessible_live_regions(page) -> None:
    """Status and progress are announced; the chart has a caption that points at the table."""
    assert page.locator("[role=status] #search-status").count() == 1
    assert page.get_by_label("Epochs of the current candidate").count() == 1
    chart = page.locator("#candidates-chart")
    assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
    caption = page.locator("#" + chart.get_attribute("aria-describedby"))
    assert "All candidates" in caption.inner_text()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("live")) as running:
        create_user(running, USER, PASSWORD)
        yield running


def test_a_user_uploads_a_folder_and_watches_a_search_live(stack, tmp_path):
    from playwright.sync_api import sync_playwright

    folder = write_image_folder(tmp_path / "stripes")
    save_times = SaveTimes(Path(stack.env["DATABASE_URL"].removeprefix("sqlite:///")))
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.add_init_script(ROW_OBSERVER)
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        try:
            sign_in(page, stack.url, USER, PASSWORD)
            upload_folder(page, stack.url, folder, "stripes")
            assert page.inner_text("#dataset-classes").split() == ["horizontal", "vertical"]
            counts = page.inner_text("#dataset-counts")
            assert "32" in counts and "12" in counts  # train / test totals

            page.click("#start-search")
            page.wait_for_url("**/searches/new/?dataset=*")
            page.click("#expert summary")  # the settings below the three choices are folded
            for selector, value in TINY_FORM.items():
                page.fill(selector, value)
            page.click("#decisions-box summary")
            page.select_option("#id_folds", TINY_FOLDS)
            save_times.start()
            page.click("#start-button")
            page.wait_for_url(lambda url: "/searches/new/" not in url)
            assert page.text_content("#search-status").strip() in ("queued", "running")

            page.wait_for_function(
                "['finished', 'failed', 'cancelled'].includes("
                "document.querySelector('#search-status').textContent.trim())",
                timeout=SEARCH_TIMEOUT_MS,
            )
            status = page.text_content("#search-status").strip()
            assert status == "finished", page.text_content("#search-error")
            rows = page.evaluate("window.__rows")
            assert page.evaluate("window.__noReload === true"), "the page reloaded"
            assert page.evaluate("window.miniNAS.liveEvents") > 0
            # At least one candidate arrived over the socket while the search was still running.
            assert any(r["status"] == "running" and r["live"] > 0 for r in rows.values()), rows
            table_rows = page.locator("table#candidates-table tbody tr[data-index]").count()
            assert table_rows == len(rows) > 0
            assert page.locator("#best-table tbody tr").count() > 0
            assert "params" in page.text_content("#best-params")

            assert_accessible_live_regions(page)
            # Finished: no empty progress line is left at the top .
            assert not page.is_visible("#epoch-progress")

            # Try it: pick an image, get the model's class scores (ONNX Runtime, in the web process).
            page.wait_for_selector("#try-it", state="visible")
            sample = next((folder / "test" / "vertical").glob("*.png"))
            page.set_input_files("#try-files", str(sample))
            page.wait_for_selector("#try-results .try-card")
            assert page.inner_text("#try-results .try-top") in ("horizontal", "vertical")
            assert page.is_hidden("#try-error")

            # The rows drawn from socket events are the rows the server renders.
            drawn = ["#candidates-table tbody tr", "#best-table tbody tr", "#best-params",
                     "#search-summary dl", "#baseline-mininas"]  # fmt: skip
            assert [row_texts(page, s) for s in drawn] == server_rendered(
                browser, context, page.url, drawn
            )
            # At 1280 px the candidates table fits its box, its rows all of one height; the
            # "All columns" box shows the other columns, and then the table scrolls in its box.
            fit = page.evaluate(TABLE_FIT)
            assert fit["scroll"] <= fit["client"] and len(fit["heights"]) == 1, fit
            assert not page.is_visible("#candidates-table th.more")
            page.check("#all-columns")
            assert page.is_visible("#candidates-table th.more")
            assert page.evaluate(TABLE_FIT)["scroll"] > fit["client"]
            page.uncheck("#all-columns")
            page.click("#baseline-mininas details summary")
            final = page.inner_text("#baseline-mininas .final-acc")
            assert "final model" in final and final.split()[0].endswith("%"), final

            with page.expect_download() as info:
                if not page.is_visible("a#download-pt"):  # not the recommended file
                    page.click("#all-files summary")
                page.click("a#download-pt")
            weights = tmp_path / "model.pt"
            info.value.save_as(weights)
            shot = ROOT / "var" / "screenshots" / "search.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)

            # Baselines: their rows change live, over the search's socket, with no reload.
            # The search finished after this page was drawn: it offers them now, without a reload.
            assert page.is_visible("#baselines-train") and not page.is_visible("#baselines-wait")
            assert page.evaluate("window.__noReload === true"), "the page reloaded"
            with worker_paused(stack):
                start_watching(page, "#baselines-train")
                assert page.is_visible("#baselines-cancel")
            page.wait_for_function(
                "document.querySelectorAll('#baselines-table tr[data-baseline] "
                ".status-finished, #baselines-table tr[data-baseline] .status-failed')"
                ".length === 2",
                timeout=BASELINES_TIMEOUT_MS,
            )
            assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
            assert page.evaluate("window.miniNAS.liveEvents") > 0
            baselines = "#baselines-table tbody tr"
            assert "failed" not in page.inner_text("#baselines-table"), page.inner_text(baselines)
            assert page.inner_text("#baselines-train") == "Train baselines again"
            assert not page.is_visible("#baselines-cancel")
            assert "finished" in page.text_content("#baselines-state")
            assert [row_texts(page, baselines)] == server_rendered(
                browser, context, page.url, [baselines]
            )
            # The report's wide table scrolls in its box; the page itself does not get wider.
            page.goto(stack.url + "/report/")
            box = page.evaluate(
                "(() => { const b = document.querySelector('#report-table').parentElement;"
                " return [b.scrollWidth, b.clientWidth, document.documentElement.scrollWidth,"
                " window.innerWidth]; })()"
            )
            assert box[2] <= box[3], f"the page is wider than the window: {box}"
            assert not script_errors
        finally:
            save_times.done.set()
            browser.close()

    import torch

    saved = torch.load(weights, weights_only=True)
    assert "arch" in saved and "state_dict" in saved
    assert saved["arch"]["depth"] == len(saved["arch"]["ops"])

    # From the worker's commit (seen in the DB file) to the row in the page, per candidate.
    latencies = [rows[str(i)]["t"] - t for i, t in save_times.seen.items() if str(i) in rows]
    assert latencies, "no candidate was timed"
    print(
        f"\ncandidate save -> browser latency over {len(latencies)} candidates: "
        f"p50 {percentile(latencies, 0.5):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"max {max(latencies):.0f} ms (DB polled every {save_times.every * 1000:.0f} ms)"
    )


def test_the_suite_page_shows_each_dataset_as_it_is_derived(stack):
    from playwright.sync_api import sync_playwright

    place_cifar(Path(stack.env["MEDIA_ROOT"]).parent / "sources")  # the default sources folder
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        try:
            sign_in(page, stack.url, USER, PASSWORD)
            page.goto(stack.url + "/suite/")
            assert "0 of 31 datasets created" in page.inner_text("#suite-created")
            with worker_paused(stack):
                start_watching(page, "#suite-create")
                assert page.is_disabled("#suite-create")
            page.wait_for_function(
                "document.querySelector('#suite-run-status').textContent.trim() === 'finished'",
                timeout=120_000,
            )
            assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
            assert page.evaluate("window.miniNAS.liveEvents") > 0
            assert page.inner_text("#suite-created") == "21 of 31 datasets created"
            assert page.inner_text("#suite-run-counts") == "21 created, 10 skipped"
            assert page.locator("#suite-problems li").count() == 10
            assert not page.is_disabled("#suite-create")
            pair = page.locator('tr[data-suite="airplane, auto"]')
            assert pair.locator("a[href^='/datasets/']").count() == 1
            assert pair.locator(".suite-created").inner_text() == "yes"
            rows = ["#suite-table tbody tr", "#suite-problems li", "#suite-run-status"]
            assert [row_texts(page, s) for s in rows] == server_rendered(
                browser, context, page.url, rows
            )
            assert not script_errors
        finally:
            browser.close()


# The page under load: 500 finished candidates fed through the socket (the worker's own recorder,
# real Redis), each handled as it arrives. Times each socket message's handler with the Performance
# API and counts long tasks (> 50 ms of main-thread time). A benchmark: printed, not asserted.
HANDLER_TIMER = """
window.__updates = [];
window.__longTasks = [];
try {
  new PerformanceObserver((list) => list.getEntries().forEach((e) => window.__longTasks.push(e.duration)))
    .observe({ type: "longtask", buffered: true });
} catch (e) {}
const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
Object.defineProperty(WebSocket.prototype, "onmessage", {
  configurable: true,
  get() { return desc.get.call(this); },
  set(fn) {
    desc.set.call(this, (ev) => {
      const start = performance.now();
      fn(ev);
      const took = performance.now() - start;
      let type = "";
      try { type = JSON.parse(ev.data).type; } catch (e) {}
      performance.measure("socket " + type, { start, duration: took });
      window.__updates.push({ type, took });
    });
  },
});
"""
SETUP_RUNNING_SEARCH = """
from django.contrib.auth import get_user_model
from searchapp.models import Search
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_imagedata
u = get_user_model().objects.get(username=USERNAME)
d = create_dataset_from_imagedata(u, "load", make_imagedata(), source="generated")
s = Search.objects.create(owner=u, dataset=d, settings={}, status="running", phase="depth")
print(s.pk)
"""
FEED_CANDIDATES = """
import random, time
from searchapp.tasks.search import EventRecorder
rec = EventRecorder(SEARCH_ID)
rng = random.Random(0)
phases = ["depth", "width", "op", "kernel"]
arch = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
for i in range(COUNT):
    rec({"type": "candidate.finished", "candidate": {
        "index": i, "phase": phases[i * 4 // COUNT], "arch": arch, "params": 1000 + 37 * i,
        "macs": 9000 + i, "train_acc": 60 + rng.random() * 30, "test_acc": 50 + rng.random() * 40,
        "epochs": 3, "seconds": 1.5, "device": "cpu", "status": "ok",
        "accepted": i % 25 == 0, "reason": "load test"}})
    time.sleep(0.004)
"""
LOAD_CANDIDATES = 500


def test_the_live_page_stays_fluid_with_500_candidates(stack):
    from playwright.sync_api import sync_playwright

    search_id = int(
        stack.manage("shell", "-c", SETUP_RUNNING_SEARCH.replace("USERNAME", repr(USER)))
        .strip()
        .splitlines()[-1]
    )
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(HANDLER_TIMER)
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        try:
            sign_in(page, stack.url, USER, PASSWORD)
            page.goto(f"{stack.url}/searches/{search_id}/")
            page.wait_for_selector("#live-state.on")
            feed = FEED_CANDIDATES.replace("SEARCH_ID", str(search_id))
            stack.manage("shell", "-c", feed.replace("COUNT", str(LOAD_CANDIDATES)))
            page.wait_for_function(
                f"document.querySelectorAll('#candidates-table tbody tr[data-index]').length"
                f" === {LOAD_CANDIDATES}",
                timeout=120_000,
            )
            points = page.evaluate(
                "Chart.getChart('candidates-chart').data.datasets"
                ".filter((ds) => ds.label !== 'trade-off front')"  # a line through some of them
                ".reduce((n, ds) => n + ds.data.length, 0)"
            )
            assert points == LOAD_CANDIDATES
            assert page.text_content("#candidate-count").strip() == str(LOAD_CANDIDATES)
            indexes = page.eval_on_selector_all(
                "#candidates-table tbody tr[data-index]", "rows => rows.map(r => +r.dataset.index)"
            )
            assert indexes == list(range(LOAD_CANDIDATES))
            chart_ms = page.evaluate(
                "() => { const c = Chart.getChart('candidates-chart'); const t = performance.now();"
                " for (let i = 0; i < 10; i++) c.update('none'); return (performance.now() - t) / 10; }"
            )
            layout_ms = page.evaluate(
                "() => { const b = document.querySelector('#candidates-table tbody');"
                " const t = performance.now(); for (let i = 0; i < 10; i++) {"
                " b.appendChild(b.rows[0].cloneNode(true)); document.body.offsetHeight; }"
                " return (performance.now() - t) / 10; }"
            )
            print(f"\nchart update {chart_ms:.1f} ms, table row layout {layout_ms:.1f} ms")
            updates = page.evaluate("window.__updates")
            long_tasks = page.evaluate("window.__longTasks")
            assert not script_errors
        finally:
            browser.close()
    took = [u["took"] for u in updates if u["type"] == "candidate.finished"]
    assert took, updates[:5]
    print(
        f"\n{len(took)} candidate updates over the socket: main-thread time per update "
        f"p50 {percentile(took, 0.5):.1f} ms, p95 {percentile(took, 0.95):.1f} ms, "
        f"max {max(took):.1f} ms; over 50 ms: {sum(t > 50 for t in took)}; "
        f"long tasks: {len(long_tasks)} (longest {max(long_tasks, default=0):.0f} ms); "
        f"snapshots: {sum(u['type'] == 'snapshot' for u in updates)}; "
        f"long tasks (ms): {sorted(round(t) for t in long_tasks)[-15:]}"
    )
