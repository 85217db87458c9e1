"""bench/gpu_check.sh --smoke: every engine step of the GPU check, tiny, on the CPU, one JSON out.

The script generates its own 16 px npz in its work folder (no ../shared). Figures are checked for
presence and sense, never for speed (those are the GPU's to report).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def gpu_check(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    proc = subprocess.run(
        ["bash", "bench/gpu_check.sh", "--smoke", "--work", str(tmp_path / "work"), *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_smoke_runs_every_engine_step_and_prints_one_json(tmp_path):
    code, out, err = gpu_check(tmp_path, "--json-out", str(tmp_path / "check.json"))
    assert json.loads((tmp_path / "check.json").read_text()) == out
    assert out["mode"] == "smoke" and out["device"] == "cpu"
    assert Path(out["data"]).parent == tmp_path / "work"  # its own tiny npz
    assert "stack" not in out  # only with --stack

    speed = out["train_speed"]
    assert "error" not in speed, speed
    assert speed["fast_images_per_s"] > 0 and speed["conventional_images_per_s"] > 0

    tta = out["time_to_accuracy"]
    assert "error" not in tta, tta
    for recipe in ("paper", "fast"):
        assert 0 <= tta[recipe]["test_acc"] <= 100 and tta[recipe]["seconds"] > 0

    search = out["search"]
    assert "error" not in search, search
    assert search["candidates"] > 0 and search["devices"] == ["cpu"]
    assert search["best"]["arch"] and search["best"]["params"] > 0
    assert search["wall_seconds"] > 0

    parallel = out["parallel"]
    if "error" in parallel and "no --parallel option" in parallel["error"]:
        assert parallel == {"error": parallel["error"], "step_seconds": parallel["step_seconds"]}
    else:  # the same decisions with 2 in flight, and both wall times
        assert "error" not in parallel, parallel
        assert parallel["n2"]["parallel"] == 2 and parallel["n2"]["devices"] == ["cpu"]
        assert parallel["same_architecture"] and parallel["same_accepted"]
        assert parallel["n1_wall_seconds"] > 0 and parallel["n2_wall_seconds"] > 0
        assert parallel["speedup"] > 0

    assert out["failed_steps"] == [] and out["ok"] and code == 0, err[-3000:]
    assert 0 < out["total_seconds"] <= out["budget_seconds"]["engine"] + 30


def test_a_step_that_fails_is_reported_in_the_json_and_the_rest_still_run(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    code, out, _ = gpu_check(tmp_path, "--data", str(bad), "--only", "time_to_accuracy,search")
    assert code == 1 and not out["ok"]
    assert out["failed_steps"] == ["time_to_accuracy", "search"]
    assert out["time_to_accuracy"]["error"] and out["search"]["error"]
    assert "train_speed" not in out and "parallel" not in out


def test_an_unknown_step_is_a_one_line_error(tmp_path):
    proc = subprocess.run(
        ["bash", "bench/gpu_check.sh", "--smoke", "--only", "warp"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "no step named 'warp'" in proc.stderr
    assert "Traceback" not in proc.stderr
