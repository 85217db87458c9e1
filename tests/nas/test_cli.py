"""CLI: a whole search from the shell, and one-line errors with a non-zero exit on bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.builders import make_data, write_folder

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--max-depth",
    "4",
    "--min-width",
    "8",
    "--max-width",
    "16",
    "--width-step",
    "8",
    "--epochs",
    "1",
    "--device",
    "cpu",
    "--folds",
    "1",
]


FOLDS_ERROR = "folds must be auto or a whole number from 1 to 10"


def cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "searchapp.nas", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def test_it_runs_a_search_and_writes_all_outputs(tmp_path):
    data = write_folder(tmp_path / "data", make_data())
    out = tmp_path / "out"
    proc = cli("search", data, "--out", out, *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "== phase: depth" in proc.stdout and "== phase: kernel" in proc.stdout
    assert (
        "final architecture" in proc.stdout and "Layer" in proc.stdout and "Stride" in proc.stdout
    )
    result = json.loads((out / "result.json").read_text())
    lines = [ln for ln in proc.stdout.splitlines() if ln[:1] in "* " and "#" in ln[:5]]
    assert len(lines) == len(result["candidates"]) >= 1 + 1 + 3  # initial, >=1 depth, op+kernel
    assert (out / "model.pt").stat().st_size > 0 and (out / "model.onnx").stat().st_size > 0


def test_it_resumes_from_its_progress_file(tmp_path):
    data = write_folder(tmp_path / "data", make_data())
    out = tmp_path / "out"
    assert cli("search", data, "--out", out, *TINY).returncode == 0
    progress = (out / "progress.jsonl").read_text().splitlines()
    (out / "progress.jsonl").write_text("\n".join(progress[:3]) + "\n")  # as if killed after 3
    proc = cli("search", data, "--out", out, *TINY, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "replaying 3 recorded candidates" in proc.stdout
    assert proc.stdout.count("(replayed)") == 3


def _one_class(root):
    (root / "a").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (16, 16)).save(root / "a" / f"{i}.png")


def _empty_class(root):
    write_folder(root, make_data())
    for p in (root / "train" / "dog").iterdir():
        p.unlink()
    for p in (root / "test" / "dog").iterdir():
        p.unlink()


def _unreadable(root):
    write_folder(root, make_data())
    (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")


@pytest.mark.parametrize(
    "setup, extra, message",
    [
        (None, [], "no such file"),
        (_one_class, [], "only one class"),
        (_empty_class, [], "dog"),
        (_unreadable, [], "broken.png"),
        (lambda r: write_folder(r, make_data()), ["--max-depth", "99"], "max_depth"),
        (lambda r: write_folder(r, make_data()), ["--min-width", "80"], "min_width"),
        (lambda r: write_folder(r, make_data()), ["--epochs", "zero"], "invalid int"),
        (lambda r: write_folder(r, make_data()), ["--device", "tpu"], "device"),
        (lambda r: write_folder(r, make_data()), ["--folds", "0"], FOLDS_ERROR),
        (lambda r: write_folder(r, make_data()), ["--folds", "x"], FOLDS_ERROR),
        (lambda r: write_folder(r, make_data()), ["--rule", "bayes"], "invalid choice"),
    ],
)
def test_bad_input_gives_a_one_line_reason_and_exit_2(tmp_path, setup, extra, message):
    data = tmp_path / "data"
    if setup:
        setup(data)
    proc = cli("search", data, "--out", tmp_path / "out", *extra)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_it_selects_on_validation_trains_a_final_model_and_takes_the_selection_flags(tmp_path):
    data = write_folder(tmp_path / "data", make_data())
    out = tmp_path / "out"
    proc = cli("search", data, "--out", out, *TINY, "--final-epochs", 1, "--val-frac", 0.2)
    assert proc.returncode == 0, proc.stderr
    assert "chosen on validation" in proc.stdout and "final model" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["selection_split"] == "validation"
    assert {"test_acc", "test_ci95", "epochs", "recipe", "per_class", "confusion_matrix"} <= set(
        result["final"]
    )
    c = result["candidates"][0]
    assert len(c["val_ci95"]) == 2 and len(c["test_ci95"]) == 2 and c["val_acc"] is not None

    out2 = tmp_path / "paper"
    proc = cli(
        "search",
        data,
        "--out",
        out2,
        *TINY,
        "--select-on",
        "test",
        "--final-epochs",
        0,
        "--noise-aware",
        "--rule",
        "paper",
    )
    assert proc.returncode == 0, proc.stderr
    assert "chosen on test, as the paper does" in proc.stdout  # the summary says which split
    result = json.loads((out2 / "result.json").read_text())
    assert result["selection_split"] == "test" and result["final"] is None
    assert result["config"]["noise_aware"] is True and result["config"]["rule"] == "paper"
    assert result["folds"] == 1
    assert all(c["val_acc"] is None for c in result["candidates"])


def test_it_cross_validates_with_the_folds_flag_and_decides_on_evidence(tmp_path):
    data = write_folder(tmp_path / "data", make_data(n_train=12, n_test=6, size=8))
    out = tmp_path / "out"
    flags = [*TINY[:-2], "--max-depth", "3", "--kernels", "3", "--final-epochs", "0"]
    proc = cli("search", data, "--out", out, *flags, "--folds", "2", "--rule", "evidence")
    assert proc.returncode == 0, proc.stderr
    assert "decisions: evidence rule, 2 folds: 2 trainings per candidate" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["folds"] == 2 and result["config"]["folds"] == "2"
    judged = [c for c in result["candidates"][1:] if c["status"] == "ok"]
    assert judged and all(c["evidence"]["n"] == 24 for c in judged)
    assert all(" points [" in c["reason"] for c in judged)
