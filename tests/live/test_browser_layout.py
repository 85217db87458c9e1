"""Every page in a real Chromium at a phone's width (390 px) and a laptop's (1280 px): no page is
wider than the window, the first Tab reaches "Skip to content", the Research menu opens in place,
the compare button waits for a second tick, the "live" tag shows only on a running search, and
the Try-it zone opens the file picker from the keyboard. Screenshots of the start page, the
search list and a finished search at both widths go to var/screenshots/layout-*.png.

The stack (Redis, the web server, a SQLite file) runs in subprocesses (tests/live/live_stack.py);
the data is written into its database by `manage.py shell` with tests/builders.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.live_stack import (
    CHROMIUM,
    create_user,
    launch_chromium,
    live_stack,
    session_for,
    sign_in,
)
from tests.web.derive_fixtures import place_cifar

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

USER, PASSWORD = "erin", "erin-layout-password"
NEWCOMER, STAFF = "fred", "root"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}

# USER's things: two datasets (one with a long name), two finished searches (the first with its
# files, exports, a final model and a baseline), a running one; prints the ids.
MAKE_DATA = """
from django.contrib.auth import get_user_model
from searchapp.models import BaselineRun, Candidate, Search
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import finish_with_weights, make_finished_search, make_imagedata
u = get_user_model().objects.get(username=USERNAME)
pets = create_dataset_from_imagedata(u, "pets", make_imagedata(), source="generated")
long = create_dataset_from_imagedata(
    u, "a dataset with a rather long name: ten classes of hand-sorted workshop photographs",
    make_imagedata(("screwdriver_with_a_long_label", "spanner", "hammer")), source="generated")
a = make_finished_search(u, pets, (61.0, 70.0, 75.25), depth=4, width=16, params=12000,
                         final_acc=78.5)
finish_with_weights(a, {"pt": b"w", "onnx": b"o", "int8_tflite": b"t"})
a.settings = a.settings | {"target": "nano33ble"}
a.best.ram_kb, a.best.flash_kb = 150.0, 180.0
a.best.save()
a.exports = {
    "pt": {"file": "model.pt", "bytes": 50000, "precision": "float32", "test_acc": 78.5},
    "onnx": {"file": "model.onnx", "bytes": 40960, "test_acc": 78.5, "latency_ms": 0.52},
    "int8_tflite": {"file": "model_int8.tflite", "bytes": 10240, "precision": "int8",
                    "test_acc": 76.0, "latency_ms": 0.4, "vs_float32": -2.5},
}
a.save()
BaselineRun.objects.create(search=a, name="mobilenet_v2", status="finished",
    metrics={"test_acc": 71.0, "params": 2200000, "epochs": 3, "seconds": 12.0})
b = make_finished_search(u, long, (55.0, 66.0), depth=3, width=8, select_on="test")
c = Search.objects.create(owner=u, dataset=pets, settings={}, status="running", phase="width",
    progress={"index": 2, "phase": "width", "epoch": 1, "epochs": 4})
Candidate.objects.create(search=c, index=0, phase="depth", arch=a.best.arch, params=3000,
    test_acc=60.0, status="ok", accepted=True)
print(pets.pk, long.pk, a.pk, b.pk, c.pk)
"""

# The page's width against the window's, and the elements that stick out (to say which).
FIT = """
() => {
  const root = document.documentElement;
  const limit = root.clientWidth;
  const out = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > limit + 1)
    .filter((el) => !el.closest(".table-scroll, .scroll-x, .candidates-box, .side-by-side, table"))
    .filter((el) => !el.closest("details:not([open]) > :not(summary)"))
    .slice(0, 5)
    .map((el) => el.tagName + (el.id ? "#" + el.id : "") + "." + el.className
                 + " right=" + Math.round(el.getBoundingClientRect().right));
  return { scroll: root.scrollWidth, client: limit, out };
}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    with live_stack(root, worker=False) as s:
        create_user(s, USER, PASSWORD)
        create_user(s, NEWCOMER, PASSWORD)
        s.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({STAFF!r}, password='x', is_staff=True)",
        )
        s.sources = root / "sources"  # DERIVED_SOURCES_DIR's default: MEDIA_ROOT/../sources
        yield s


@pytest.fixture(scope="module")
def ids(stack) -> dict[str, int]:
    out = stack.manage("shell", "-c", MAKE_DATA.replace("USERNAME", repr(USER)))
    values = [int(v) for v in out.strip().splitlines()[-1].split()]
    return dict(zip(("pets", "long", "a", "b", "c"), values, strict=True))


def _pages(ids: dict[str, int]) -> list[str]:
    a, b, c = ids["a"], ids["b"], ids["c"]
    return [
        "/start/",
        "/datasets/",
        "/datasets/new/",
        f"/datasets/{ids['pets']}/",
        f"/datasets/{ids['long']}/",
        f"/datasets/{ids['pets']}/delete/",
        "/searches/",
        "/searches/new/",
        f"/searches/{a}/",  # finished: result, exports, try it, baselines
        f"/searches/{b}/",
        f"/searches/{c}/",  # running
        f"/searches/{a}/mistakes/",
        f"/searches/{a}/delete/",
        f"/searches/compare/?ids={a}&ids={b}",
        f"/searches/compare/?ids={a}",
        "/report/",
        "/datasets/derive/",
        "/suite/",
        "/settings/tokens/",
    ]


def _screenshots() -> Path:
    folder = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _context(browser, stack, username: str | None, viewport: dict):
    context = browser.new_context(viewport=viewport)
    if username:
        host = stack.url.split("//", 1)[1].split(":")[0]
        cookie = {"name": "sessionid", "value": session_for(stack, username), "domain": host,
                  "path": "/"}  # fmt: skip
        context.add_cookies([cookie])
    return context


def _too_wide(page, url: str) -> str:
    """'' when the page at `url` fits its window, else what sticks out."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status in (200, 400), (url, response.status)
    fit = page.evaluate(FIT)
    if fit["scroll"] <= fit["client"]:
        return ""
    return f"{url}: {fit['scroll']} px wide in {fit['client']} ({'; '.join(fit['out'])})"


def test_every_page_fits_a_phone(stack, ids):
    from playwright.sync_api import sync_playwright

    pages = [stack.url + p for p in _pages(ids)]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            wide = []
            page = _context(browser, stack, USER, PHONE).new_page()
            wide += [w for w in (_too_wide(page, url) for url in pages) if w]
            page = _context(browser, stack, NEWCOMER, PHONE).new_page()
            wide += [w for w in (_too_wide(page, stack.url + u) for u in ("/start/",)) if w]
            page = _context(browser, stack, STAFF, PHONE).new_page()
            staff_pages = ("/start/", "/datasets/derive/", "/suite/", "/report/")
            wide += [w for w in (_too_wide(page, stack.url + u) for u in staff_pages) if w]
            page.goto(stack.url + "/start/")
            page.click("#nav-research summary")  # the menu opens in the bar, not past its edge
            assert page.is_visible("#nav-research a[href='/suite/']")
            fit = page.evaluate(FIT)
            assert fit["scroll"] <= fit["client"], fit
            page = _context(browser, stack, None, PHONE).new_page()
            wide += [w for w in (_too_wide(page, stack.url + "/accounts/login/"),) if w]
        finally:
            browser.close()
    assert not wide, "\n".join(wide)


def test_the_first_tab_reaches_the_skip_link(stack, ids):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_context(viewport=PHONE).new_page()
            sign_in(page, stack.url, USER, PASSWORD)
            assert page.url.endswith("/start/")  # signing in leads to the start page
            for path in ("/start/", "/searches/", f"/searches/{ids['a']}/"):
                page.goto(stack.url + path)
                page.keyboard.press("Tab")
                focused = page.evaluate(
                    "() => [document.activeElement.className, document.activeElement.textContent]"
                )
                assert focused == ["skip-link", "Skip to content"], path
                assert page.is_visible(".skip-link")  # shown while it has the focus
                page.keyboard.press("Enter")
                assert page.evaluate("() => document.activeElement.id") == "content", path
        finally:
            browser.close()


def test_compare_waits_for_a_second_tick(stack, ids):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = _context(browser, stack, USER, LAPTOP).new_page()
            page.goto(stack.url + "/searches/")
            button = page.locator("#compare-button")
            assert button.is_disabled()
            page.check(f"input[name=ids][value='{ids['a']}']")
            assert button.is_disabled()
            assert page.inner_text("#compare-hint") == "Tick one more search to compare."
            page.check(f"input[name=ids][value='{ids['b']}']")
            assert button.is_enabled() and page.inner_text("#compare-hint") == "2 searches ticked."
            button.click()
            page.wait_for_selector("#compare-summary")

            page.goto(f"{stack.url}/searches/compare/?ids={ids['a']}")  # one: pick another
            assert page.locator("#compare-button").is_disabled()
            page.check(f"#pick-{ids['b']}")
            page.click("#compare-button")
            page.wait_for_selector("#compare-summary")
        finally:
            browser.close()


def test_live_tag_and_try_it_zone(stack, ids):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = _context(browser, stack, USER, LAPTOP).new_page()
            # Playwright turns file-chooser interception on when the first listener is added, in a
            # message it does not wait for: on from here, long before a key opens a chooser.
            page.on("filechooser", lambda chooser: None)
            page.goto(f"{stack.url}/searches/{ids['c']}/")  # running: the tag says so
            page.wait_for_function(
                "() => document.getElementById('live-state').textContent === 'live'"
            )
            assert page.is_visible("#live-state")
            page.goto(f"{stack.url}/searches/{ids['a']}/")  # finished: no tag
            page.wait_for_function("() => window.miniNAS && window.miniNAS.socket")
            assert not page.is_visible("#live-state")
            drop = page.locator("#try-drop")
            assert drop.get_attribute("role") == "button" and drop.get_attribute("aria-label")
            drop.focus()
            with page.expect_file_chooser() as chooser:
                page.keyboard.press("Enter")
            assert chooser.value.is_multiple()
            chooser.value.set_files([])  # closed with nothing picked: Chromium opens one at a time
            assert page.is_hidden("#try-error")  # nothing picked is not an error
            with page.expect_file_chooser():
                page.keyboard.press(" ")
        finally:
            browser.close()


def test_screenshots_of_the_main_pages(stack, ids):
    """For a person to look at; the check here is only that each page fits."""
    from playwright.sync_api import sync_playwright

    place_cifar(stack.sources)  # the Research menu shows for everyone
    shots = {"start": "/start/", "searches": "/searches/", "search": f"/searches/{ids['a']}/"}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for size, viewport in (("1280", LAPTOP), ("390", PHONE)):
                page = _context(browser, stack, USER, viewport).new_page()
                for name, path in shots.items():
                    assert _too_wide(page, stack.url + path) == ""
                    out = _screenshots() / f"layout-{name}-{size}.png"
                    page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
