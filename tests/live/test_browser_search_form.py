"""The new-search form and the search page's progress in a real Chromium, at a phone's width
(390 px) and a laptop's (1280 px): the form does not scroll sideways, an effort card is clickable
and writes its settings into the expert fields (editing one of them makes the effort Custom), its
time comes from the workers' measured speed; the chart's legend lists only the series drawn.
Screenshots of the new-search page, a queued, a running and a finished search at both widths go
to var/screenshots/search-*.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.live_stack import CHROMIUM, create_user, launch_chromium, live_stack, session_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

USER, PASSWORD = "gina", "gina-form-password"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}

# A dataset, a finished search whose candidates measured the speed, a running one in its width
# phase and a queued one with no candidate yet; prints the ids.
MAKE_DATA = """
from django.contrib.auth import get_user_model
from searchapp.models import Candidate, Search
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_finished_search, make_imagedata
u = get_user_model().objects.get(username=USERNAME)
pets = create_dataset_from_imagedata(u, "pets", make_imagedata(), source="generated")
done = make_finished_search(u, pets, (61.0, 70.0, 68.0, 75.25, 74.0), depth=4, width=16,
                            params=12000, final_acc=78.5)
for i, c in enumerate(done.candidates.order_by("index")):
    c.epochs, c.seconds, c.params = 10, 40.0, 2000 * 3 ** i
    c.record = {"test_ci95": [c.test_acc - 9.0, min(100.0, c.test_acc + 7.0)]}
    c.save()
done.phase = "done"
done.save()
run = Search.objects.create(owner=u, dataset=pets, settings=done.settings, status="running",
    phase="width", started=done.finished, progress={"index": 3, "phase": "width", "epoch": 2,
    "epochs": 30})
for i, acc in enumerate((60.0, 66.0, 99.5)):
    Candidate.objects.create(search=run, index=i, phase="depth", arch=done.best.arch,
        params=3000 * 4 ** i, test_acc=acc, status="ok", accepted=i != 1, epochs=30,
        seconds=25.0, record={"test_ci95": [acc - 8.0, min(100.0, acc + 6.0)]})
queued = Search.objects.create(owner=u, dataset=pets, settings=done.settings)
print(pets.pk, done.pk, run.pk, queued.pk)
"""

FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
LEGEND = "() => Chart.getChart('candidates-chart').legend.legendItems.map((i) => i.text)"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("form")
    with live_stack(root, worker=False) as s:
        create_user(s, USER, PASSWORD)
        yield s


@pytest.fixture(scope="module")
def ids(stack) -> dict[str, int]:
    out = stack.manage("shell", "-c", MAKE_DATA.replace("USERNAME", repr(USER)))
    values = [int(v) for v in out.strip().splitlines()[-1].split()]
    return dict(zip(("pets", "done", "run", "queued"), values, strict=True))


def _page(browser, stack, viewport):
    context = browser.new_context(viewport=viewport)
    host = stack.url.split("//", 1)[1].split(":")[0]
    cookie = {"name": "sessionid", "value": session_for(stack, USER), "domain": host, "path": "/"}
    context.add_cookies([cookie])
    return context.new_page()


def _shots() -> Path:
    folder = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_form_fits_a_phone_and_its_presets_are_clickable(stack, ids):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for name, viewport in (("390", PHONE), ("1280", LAPTOP)):
                page = _page(browser, stack, viewport)
                page.goto(stack.url + "/searches/new/", wait_until="load")
                assert page.evaluate(FITS), name
                assert page.is_checked("#id_effort_balanced")
                assert page.input_value("#id_target") == "none"  # no board
                assert not page.is_visible("#id_epochs")  # Expert settings start closed
                assert page.text_content("#time-text").startswith("at most about")
                page.click("label[for=id_effort_quick]")  # the card, anywhere on it
                assert page.is_checked("#id_effort_quick")
                assert page.input_value("#id_epochs") == "10"
                assert page.input_value("#id_max_depth") == "8"
                quick = page.text_content(".time[data-preset=quick]")
                page.wait_for_function(
                    "(t) => document.getElementById('time-text').textContent === t", arg=quick
                )
                page.screenshot(path=str(_shots() / f"search-new-{name}.png"), full_page=True)
                page.click("#expert summary")
                page.fill("#id_epochs", "12")
                page.dispatch_event("#id_epochs", "change")
                assert page.locator("input[name=effort]:checked").count() == 0
                assert page.is_visible("#custom-effort")
                page.click("label[for=id_effort_thorough]")
                assert not page.is_visible("#custom-effort")
                assert page.evaluate(FITS), name
        finally:
            browser.close()


def test_the_search_pages_show_progress_and_a_legend_of_what_is_drawn(stack, ids):
    from playwright.sync_api import sync_playwright

    base = stack.url + "/searches/{}/"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for name, viewport in (("390", PHONE), ("1280", LAPTOP)):
                page = _page(browser, stack, viewport)
                page.goto(base.format(ids["queued"]), wait_until="load")
                assert page.is_visible("#waiting-placeholder")
                assert not page.is_visible("#candidates-chart")
                assert page.is_visible("#queued-note")
                page.screenshot(path=str(_shots() / f"search-queued-{name}.png"), full_page=True)
                page.goto(base.format(ids["run"]), wait_until="load")
                page.wait_for_function("() => window.Chart && Chart.getChart('candidates-chart')")
                assert page.text_content("#phase-stepper li.current") == "Width"
                assert page.text_content("#candidate-current") == "3"
                assert page.text_content("#time-left").startswith("at most about")
                legend = page.evaluate(LEGEND)
                assert legend == ["depth", "accepted", "trade-off front"], legend
                assert page.evaluate(FITS), name
                page.screenshot(path=str(_shots() / f"search-running-{name}.png"), full_page=True)
                page.goto(base.format(ids["done"]), wait_until="load")
                page.wait_for_function("() => window.Chart && Chart.getChart('candidates-chart')")
                assert page.locator("#phase-stepper li.done").count() == 6
                assert not page.is_visible("#run-figures")
                assert page.evaluate(FITS), name
                page.screenshot(path=str(_shots() / f"search-finished-{name}.png"), full_page=True)
        finally:
            browser.close()
