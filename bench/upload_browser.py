"""Seconds to upload an image folder through the browser, as a person would: Chromium picks the
folder in the upload page, the page sends it in batches, the dataset page opens and follows the
worker that checks and packs every image, until it shows the dataset.

    python bench/upload_browser.py [FOLDER]   # default: ../shared/data/tinyimagenet-volleyball-basketball

Starts its own stack (Redis, the web server, an RQ worker, a SQLite file in a temporary folder) with
tests/live/live_stack.py and prints one JSON object. The target is <= 30 s for that folder.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live.live_stack import create_user, launch_chromium, live_stack, sign_in  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "data" / "tinyimagenet-volleyball-basketball"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    if not files:
        print(f"error: no files under {folder}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mininas-upload-bench-") as tmp:
        with live_stack(Path(tmp)) as stack, sync_playwright() as p:
            create_user(stack, "bench", "bench-upload-password")
            browser = launch_chromium(p)
            page = browser.new_page()
            sign_in(page, stack.url, "bench", "bench-upload-password")
            page.goto(stack.url + "/datasets/new/")
            page.fill("#id_name", folder.name)
            start = time.perf_counter()
            page.set_input_files("#folder-input", str(folder))
            picked = time.perf_counter() - start
            start = time.perf_counter()
            page.click("#upload-button")
            page.wait_for_url(re.compile(r"/datasets/\d+/$"), timeout=600_000)
            handed_over = time.perf_counter() - start
            page.wait_for_selector("#dataset-counts", timeout=600_000)  # packed by the worker
            seconds = time.perf_counter() - start
            counts = page.inner_text("#dataset-counts").split()
            browser.close()
    result = {
        "folder": str(folder),
        "files": len(files),
        "megabytes": round(sum(p.stat().st_size for p in files) / 2**20, 2),
        "pick_seconds": round(picked, 2),  # Playwright handing the folder to the page
        "handed_over_seconds": round(handed_over, 2),  # click Upload -> dataset page (packing)
        "upload_seconds": round(seconds, 2),  # click Upload -> the packed dataset shown
        "target_seconds": 30,
        "dataset_totals": counts[-2:],  # train, test
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
