"""CLI `export`: any trained candidate of a finished search, with its final training and files."""

import json
import shutil

import pytest

from tests.builders import make_data, write_folder
from tests.nas.test_cli import cli

SMALL = [
    "--min-depth", "3", "--max-depth", "4", "--min-width", "8", "--max-width", "16",
    "--width-step", "8", "--ops", "sep", "--kernels", "3", "--epochs", "1", "--folds", "1",
    "--final-epochs", "1", "--device", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real tiny search's run folder and its result.json's text."""
    root = tmp_path_factory.mktemp("export")
    data = write_folder(root / "data", make_data())
    out = root / "run"
    proc = cli("search", data, "--out", out, *SMALL)
    assert proc.returncode == 0, proc.stderr
    return out, (out / "result.json").read_text()


def test_it_exports_a_candidate_the_search_did_not_choose(run, tmp_path):
    run_dir, result = run[0], json.loads(run[1])
    other = next(c for c in result["candidates"] if c["index"] != result["best"]["index"])
    out = tmp_path / "cand"
    proc = cli("export", run_dir, "--candidate", other["index"], "--out", out)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((out / "result.json").read_text())
    assert written["candidate"] == other["index"] and written["arch"] == other["arch"]
    assert written["search_best"] == result["best"]["index"]
    assert written["figures"]["params"] == other["params"]
    assert written["final"]["epochs"] == 1 and written["final"]["test_acc"] is not None
    for name in ("pt", "onnx", "int8_onnx", "int8_tflite", "tflm", "c_source", "c_header"):
        assert name in written["exports"], name
    for name in ("model.pt", "model.onnx", "model_int8.tflite", "model_data.cc", "model_data.h"):
        assert (out / name).stat().st_size > 0, name
    ckpt_arch = __import__("torch").load(out / "model.pt", weights_only=True)["arch"]
    assert ckpt_arch == other["arch"]
    timing = written["seconds"]
    assert timing["total"] >= timing["final"] + timing["exports"] - 0.01
    assert f"== final training of #{other['index']}" in proc.stdout
    assert "model_int8.tflite" in proc.stdout


def _error(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_an_unknown_candidate_is_refused_in_one_line(run, tmp_path):
    run_dir, result = run[0], json.loads(run[1])
    n = len(result["candidates"]) + 5
    line = _error(cli("export", run_dir, "--candidate", n, "--out", tmp_path / "x"))
    assert f"no candidate {n}" in line


def test_a_candidate_never_trained_is_refused(run, tmp_path):
    run_dir, result = run[0], json.loads(run[1])
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    result["candidates"][0]["status"] = "over_budget"  # as a search records one it skipped
    result["candidates"][0]["test_acc"] = None
    (copy / "result.json").write_text(json.dumps(result))
    line = _error(cli("export", copy, "--candidate", 0, "--out", tmp_path / "x"))
    assert "candidate 0 cannot be exported" in line and "budget" in line


@pytest.mark.parametrize("what", ["missing", "no-result", "garbage"])
def test_a_bad_run_folder_is_refused(tmp_path, what):
    folder = tmp_path / "run"
    if what != "missing":
        folder.mkdir()
    if what == "garbage":
        (folder / "result.json").write_text("{not json")
    line = _error(cli("export", folder, "--candidate", 0, "--out", tmp_path / "x"))
    assert str(folder) in line


def test_another_dataset_is_refused(run, tmp_path):
    run_dir, _ = run
    other = write_folder(tmp_path / "other", make_data(classes=("a", "b", "c")))
    line = _error(
        cli("export", run_dir, "--candidate", 0, "--out", tmp_path / "x", "--data", other)
    )
    assert "is not the search's" in line and "--data" in line


def test_a_moved_dataset_asks_for_data(run, tmp_path):
    run_dir, result = run[0], json.loads(run[1])
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    result["dataset"]["source"] = str(tmp_path / "gone")
    (copy / "result.json").write_text(json.dumps(result))
    line = _error(cli("export", copy, "--candidate", 0, "--out", tmp_path / "x"))
    assert "--data PATH" in line
