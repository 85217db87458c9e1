"""A new user's whole journey in a real Chromium, once at a phone's width (390 px) and once at a
laptop's (1280 px): sign in, the start page, upload a folder, the three-choice search form (Quick,
on a board), the search's live progress, the deploy card, "download all", then the searches list
and compare. On every page: nothing scrolls sideways. The form shows at most 6 inputs before
"Expert settings", and the headline accuracy is one number on the list, the search page and compare.

The stack (Redis, the web server, an RQ worker, a SQLite file) runs in subprocesses
(tests/live/live_stack.py); the search trains for real. Each page's screenshot goes to
var/screenshots/journey/<step>-<width>.png (docs/screenshots/ keeps a looked-at copy).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.live.image_folder import write_image_folder
from tests.live.live_stack import CHROMIUM, create_user, launch_chromium, live_stack, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots" / "journey"
WIDTHS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 900}}
SEARCH_TIMEOUT_MS = 900_000  # a hang guard, not an expectation
BOARD = "nano33ble"

# Nothing wider than the window: the elements that stick out, for the failure message.
SIDEWAYS = """
() => {
  const limit = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= limit) return [];
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > limit + 1)
    .slice(0, 5).map((el) => el.tagName + "#" + el.id + "." + el.className);
}
"""

# The images in the window have loaded (the dataset page's thumbnails load lazily).
IMAGES_SHOWN = """
() => [...document.images].filter((i) => i.getBoundingClientRect().top < innerHeight)
  .every((i) => i.complete)
"""

# The form's controls a user sees before the "Expert settings" box (in a closed box: not seen).
INPUTS_BEFORE_EXPERT = """
() => {
  const expert = document.getElementById("expert");
  return [...document.querySelectorAll("#search-form input, #search-form select, #search-form textarea")]
    .filter((el) => el.type !== "hidden")
    .filter((el) => expert.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING)
    .filter((el) => el.checkVisibility({ visibilityProperty: true, opacityProperty: true })
      || el.closest("label.card")?.checkVisibility())
    .map((el) => el.name + "=" + (el.value || ""));
}
"""

# The candidates table on a phone: its rows' display, and its box's width against what it needs.
CARDS = """
() => {
  const box = document.getElementById("candidates-box");
  const row = document.querySelector("#candidates-table tbody tr");
  const more = getComputedStyle(row.querySelector("td.more")).display;  // under "All columns"
  return { display: getComputedStyle(row).display, more, scroll: box.scrollWidth, client: box.clientWidth };
}
"""

# A finished search of the same user to compare with (its headline: the final model's 78.50%).
OTHER_SEARCH = """
from django.contrib.auth import get_user_model
from searchapp.models import Dataset
from tests.builders import finish_with_weights, make_finished_search
u = get_user_model().objects.get(username=USERNAME)
s = make_finished_search(u, Dataset.objects.filter(owner=u).first(), (61.0, 70.0), depth=3,
                         width=8, params=900, final_acc=78.5)
finish_with_weights(s, {"pt": b"w"})
print(s.pk)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("journey")) as running:
        yield running


class Walk:
    """One browser page walking the journey: every page is checked to fit, and photographed."""

    def __init__(self, page, width: str):
        self.page, self.width = page, width
        SHOTS.mkdir(parents=True, exist_ok=True)

    def check(self, step: str) -> None:
        sticking_out = self.page.evaluate(SIDEWAYS)
        assert not sticking_out, f"{step} at {self.width} px scrolls sideways: {sticking_out}"
        self.page.wait_for_function(IMAGES_SHOWN)
        self.page.screenshot(path=str(SHOTS / f"{step}-{self.width}.png"), full_page=True)

    def text(self, selector: str) -> str:
        return " ".join(self.page.inner_text(selector).split())


def _headline(text: str) -> str:
    """'72.00% (95% CI 62.5–79.9) …' -> '72.00%'."""
    return text.split()[0]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_new_user_goes_from_a_folder_to_a_model_for_the_board(stack, tmp_path, width):
    from playwright.sync_api import sync_playwright

    user = f"newcomer{width}"
    create_user(stack, user, "journey-password")
    folder = write_image_folder(tmp_path / "stripes")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(accept_downloads=True, viewport=WIDTHS[width])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        walk = Walk(page, width)
        try:
            sign_in(page, stack.url, user, "journey-password")
            assert page.get_attribute("#steps", "data-stage") == "upload"  # the start page
            walk.check("1-start")

            page.click("#action-upload")
            page.wait_for_url("**/datasets/new/")
            walk.check("2-upload")
            page.fill("#id_name", "stripes")
            page.set_input_files("#folder-input", str(folder))
            page.click("#upload-button")
            page.wait_for_url("**/datasets/*/")
            page.wait_for_selector("#dataset-counts, #dataset-error", timeout=120_000)
            assert page.inner_text("#dataset-classes").split() == ["horizontal", "vertical"]
            walk.check("3-dataset")

            page.click("#start-search")
            page.wait_for_url("**/searches/new/?dataset=*")
            seen = page.evaluate(INPUTS_BEFORE_EXPERT)
            assert len(seen) <= 6, f"{len(seen)} inputs before Expert settings: {seen}"
            assert page.inner_text("#id_dataset option:checked").startswith("stripes")
            page.select_option("#id_target", BOARD)
            page.click("label[for=id_effort_quick]")
            page.wait_for_function(  # the server's estimate for Quick: one validation split
                "() => document.getElementById('cost-text').textContent.includes('x 10 epochs')"
                " && document.getElementById('folds-note').textContent.includes('1 training')"
            )
            walk.check("4-new-search")
            page.click("#start-button")
            page.wait_for_url("**/searches/*/")

            # Live: a candidate arrives while the search runs; the stepper and counts follow.
            page.wait_for_function(
                "() => document.querySelector('#search-status').textContent.trim() === 'running'"
                " && document.querySelectorAll('#candidates-table tbody tr[data-index]').length",
                timeout=SEARCH_TIMEOUT_MS,
            )
            assert page.is_visible("#phase-stepper li.current")
            assert int(page.inner_text("#candidate-current")) >= 1
            assert page.inner_text("#elapsed").strip() not in ("", "–")
            assert page.is_hidden("#waiting-placeholder")
            walk.check("5-search-running")

            page.wait_for_function(
                "['finished', 'failed', 'cancelled'].includes("
                "document.querySelector('#search-status').textContent.trim())",
                timeout=SEARCH_TIMEOUT_MS,
            )
            assert page.inner_text("#search-status").strip() == "finished", page.inner_text(
                "#search-error"
            )
            page.reload()  # the page as the server renders a finished search
            search_id = page.get_attribute("#search-page", "data-search-id")
            assert "fits the board" in walk.text("#deploy-fits")
            assert page.locator(".memory-bar").count() == 2  # RAM and flash against the board
            assert "Arduino library" in walk.text("#downloads a.button.primary")  # for its board
            headline = _headline(walk.text("#summary-headline"))
            assert "95% CI" in walk.text("#summary-headline")
            if width == "390":  # each candidate a card: every column's value, nothing cut off
                box = page.evaluate(CARDS)
                assert box["display"] == "block" and box["more"] == "none", box
                assert box["scroll"] <= box["client"], box
            walk.check("6-search-finished")
            with page.expect_download() as download:
                page.click("#download-all")
            archive = tmp_path / "all.zip"
            download.value.save_as(archive)
            with zipfile.ZipFile(archive) as z:
                names = set(z.namelist())
            expected = {f"mininas-search{search_id}{end}" for end in (".pt", "-int8.tflite")}
            assert expected | {"model_data.cc", "model_data.h"} <= names, names

            other = stack.manage("shell", "-c", OTHER_SEARCH.replace("USERNAME", repr(user)))
            other = other.strip().splitlines()[-1]
            page.goto(stack.url + "/searches/")
            assert _headline(walk.text(f"tr[data-id='{search_id}'] td.headline-acc")) == headline
            walk.check("7-searches")
            assert page.is_disabled("#compare-button")
            page.check(f"input[name=ids][value='{search_id}']")
            page.check(f"input[name=ids][value='{other}']")
            page.click("#compare-button")
            page.wait_for_url("**/searches/compare/?*")
            row = f"#compare-summary tr[data-id='{search_id}'] td.headline-acc"
            assert _headline(walk.text(row)) == headline
            walk.check("8-compare")

            page.goto(stack.url + "/")
            assert page.get_attribute("#steps", "data-stage") == "deploy"
            ready = walk.text("#ready-model")  # the latest search with files: the other one
            assert ready.startswith(f"Search {other} ") and "78.50%" in ready, ready
            walk.check("9-start-deploy")
            assert not errors, errors
        finally:
            browser.close()
