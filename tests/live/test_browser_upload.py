"""The upload page in a real Chromium, for a zip: the files the server rejected are listed, with
a link to the dataset, and images larger than the working resolution are said to be resized.

The stack (Redis and the web server; no worker) runs in subprocesses (tests/live/live_stack.py).
"""

from __future__ import annotations

import io
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


def test_a_zip_upload_lists_its_rejected_files(tmp_path):
    from playwright.sync_api import sync_playwright

    archive = _zip_with_a_bad_file(tmp_path / "solid.zip")
    with live_stack(tmp_path / "stack", worker=False) as stack, sync_playwright() as p:
        create_user(stack, USER, PASSWORD)
        browser = launch_chromium(p)
        page = browser.new_page()
        sign_in(page, stack.url, USER, PASSWORD)
        page.goto(stack.url + "/datasets/new/")
        assert page.input_value("#id_max_side") == "64"
        page.set_input_files("#zip-input", str(archive))
        page.click("#upload-button")
        page.wait_for_selector("#upload-open", state="visible", timeout=60_000)
        assert page.inner_text("#upload-rejected") == "solid/red/broken.png: not an image"
        status = page.inner_text("#upload-status")
        assert "8 images, 8 resized to 64×64 px (most were 80x80), 1 rejected" in status
        page.click("#upload-open")
        page.wait_for_selector("#dataset-rejected")
        assert "8 images resized to 64×64 px" in page.inner_text("#dataset-resized")
        browser.close()
