"""The upload page in a real Chromium, for a zip: the upload answers before any image is decoded,
the browser opens the dataset page, which says it is packing and follows the packing job; once a
worker has packed it, the page shows the dataset, the files the server rejected with their
reasons, and that images larger than the working resolution were resized.

The stack (Redis and the web server) runs in subprocesses (tests/live/live_stack.py); the worker
is started once the page shows "packing", so that the page is seen following the job.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.live.live_stack import CHROMIUM, create_user, launch_chromium, live_stack, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (run `make chromium`)"),
]

USER, PASSWORD = "dora", "dora-browser-password"


def _zip_with_a_bad_file(path: Path) -> Path:
    """Two classes of 80x80 solid-colour PNGs (over the 64 px working resolution) and one
    file that is not an image."""
    with zipfile.ZipFile(path, "w") as zf:
        for cls, colour in (("red", (200, 0, 0)), ("blue", (0, 0, 200))):
            buf = io.BytesIO()
            Image.new("RGB", (80, 80), colour).save(buf, "PNG")
            for n in range(4):
                zf.writestr(f"solid/{cls}/{n}.png", buf.getvalue())
        zf.writestr("solid/red/broken.png", b"not an image")
    return path


def test_a_zip_upload_opens_the_dataset_page_which_follows_the_packing(tmp_path):
    from playwright.sync_api import sync_playwright

    archive = _zip_with_a_bad_file(tmp_path / "solid.zip")
    with live_stack(tmp_path / "stack", worker=False) as stack, sync_playwright() as p:
        create_user(stack, USER, PASSWORD)
        browser = launch_chromium(p)
        page = browser.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        sign_in(page, stack.url, USER, PASSWORD)
        page.goto(stack.url + "/datasets/new/")
        assert page.input_value("#id_max_side") == "64"
        page.set_input_files("#zip-input", str(archive))
        page.click("#upload-button")
        page.wait_for_url(re.compile(r"/datasets/\d+/$"), timeout=60_000)
        assert "Packing…" in page.inner_text("#packing-state")  # no worker yet: not decoded
        assert page.locator("#start-search").count() == 0

        stack.manage(  # a real worker takes the job, then exits
            "rqworker", "default", "--burst", "--worker-class", "searchapp.tasks.worker.Worker"
        )
        page.wait_for_selector("#dataset-rejected", timeout=60_000)  # the page reloaded itself
        rejected = page.inner_text("#dataset-rejected")
        assert "solid/red/broken.png" in rejected and "not an image" in rejected
        assert "8 images resized to 64×64 px (most were 80x80)" in page.inner_text(
            "#dataset-resized"
        )
        assert page.locator("#dataset-packing").count() == 0
        assert page.locator("#start-search").count() == 1
        assert script_errors == []
        browser.close()
