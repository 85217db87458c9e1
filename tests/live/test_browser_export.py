"""A candidate's Export button in a real Chromium: a real tiny search run in the stack, the
button on a candidate the search did not choose, the worker's export job followed live until
the "Exported candidates" section lists its files, no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.live_stack import CHROMIUM, create_user, launch_chromium, live_stack, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

USER, PASSWORD = "erin", "erin-export-password"

# A real tiny search of USER, run in the shell's process; prints its id and a candidate to export.
RUN_SEARCH = """
from django.contrib.auth import get_user_model
from searchapp.models import Search
from searchapp.nas.search import SearchConfig
from searchapp.storage import create_dataset_from_imagedata
from searchapp.tasks.search import run_search_job
from tests.builders import TINY_SEARCH, make_imagedata
u = get_user_model().objects.get(username=USERNAME)
pets = create_dataset_from_imagedata(u, "pets", make_imagedata(), source="generated")
settings = TINY_SEARCH | {"max_depth": 3, "ops": ["sep"], "final_epochs": 1}
s = Search.objects.create(owner=u, dataset=pets, settings=SearchConfig.from_dict(settings).to_dict())
assert run_search_job(s.pk)["status"] == "finished"
s.refresh_from_db()
other = s.candidates.exclude(pk=s.best_id).filter(status="ok").first()
print(s.pk, other.index)
"""


def test_the_export_button_exports_a_candidate_and_lists_its_files(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with live_stack(tmp_path_factory.mktemp("export")) as stack:
        create_user(stack, USER, PASSWORD)
        out = stack.manage("shell", "-c", RUN_SEARCH.replace("USERNAME", repr(USER)))
        search_id, index = (int(v) for v in out.strip().splitlines()[-1].split())
        problems: list[str] = []
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page()
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
                sign_in(page, stack.url, USER, PASSWORD)
                page.goto(f"{stack.url}/searches/{search_id}/")
                assert page.is_hidden("#exported-candidates")
                page.click(f'#candidates-table tr[data-index="{index}"] [data-export]')
                item = f'#exported-list li[data-index="{index}"]'
                page.wait_for_selector(item, timeout=15_000)
                page.wait_for_selector(f'{item}[data-export-status="done"]', timeout=900_000)
                links = page.eval_on_selector_all(
                    f"{item} .export-files a", "els => els.map(a => a.getAttribute('href'))"
                )
                assert any(h.endswith("/int8_tflite/") for h in links), links
                button = f'#candidates-table tr[data-index="{index}"] [data-export]'
                assert page.inner_text(button) == "Exported"
                page.reload()  # the section is also rendered by the server
                assert page.is_visible(f'{item}[data-export-status="done"]')
            finally:
                browser.close()
        assert problems == []
