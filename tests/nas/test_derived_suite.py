"""The paper's suite (Table 3), its plan, and the command line."""

import subprocess
import sys

import pytest

from searchapp.nas.data import DataError, load_npz
from searchapp.nas.derived import (
    CIFAR10_CLASSES,
    SUITE,
    TINY_DOGS,
    TINY_VEHICLES,
    expected_split,
    suite_plan,
)
from searchapp.nas.derived.cli import main
from tests.nas.derived_archives import WORDS, tiny_files, write_zip


def test_the_suite_is_table_3():
    assert len(SUITE) == 31 and len({e["name"] for e in SUITE}) == 31
    cifar = [e for e in SUITE if e["source"] == "cifar10"]
    tiny = [e for e in SUITE if e["source"] == "tinyimagenet"]
    assert len(cifar) == 21 and len(tiny) == 10
    assert sorted(len(e["classes"]) for e in cifar) == [2] * 10 + [3] * 5 + [4] * 3 + [5] * 2 + [10]
    assert all(set(e["classes"]) <= set(CIFAR10_CLASSES) for e in cifar)
    assert ["dog", "frog"] in [e["classes"] for e in cifar]  # the paper's "log, frog"
    assert all(w.startswith("n") and len(w) == 9 for e in tiny for w in e["classes"])
    assert len(TINY_DOGS) == 6 and len(set(TINY_VEHICLES)) == 15
    sizes = {e["name"]: expected_split(e) for e in SUITE}
    assert sizes["airplane, auto"] == (10_000, 2_000)
    assert sizes["airplane, auto, bird, cat, deer"] == (25_000, 5_000)
    assert sizes["volleyball, basketball"] == (1_000, 100)
    assert sizes["Tiny-ImageNet dogs"] == (3_000, 300)
    assert sizes["Tiny-ImageNet vehicles"] == (7_500, 750)
    for e in SUITE:  # Table 6's gain is ours minus the better baseline
        p = e["paper"]
        assert abs(p["ours"] - max(p["enet"], p["mnet"]) - p["gain"]) < 0.011, e["name"]


def test_the_suite_plan_derives_every_dataset(tmp_path, cifar_tar):
    wnids = sorted({w for e in SUITE if e["source"] == "tinyimagenet" for w in e["classes"]})
    words = {w: WORDS.get(w, f"class {w}") for w in wnids}
    tiny = write_zip(tmp_path / "t.zip", tiny_files(words, n_train=1, n_val=1))
    plan = list(suite_plan(cifar_tar, tiny))
    assert [e["name"] for e, _ in plan] == [e["name"] for e in SUITE]
    for entry, derive in plan:
        data = derive()
        assert data.num_classes == len(entry["classes"])
    no_tiny = [derive is None for _, derive in suite_plan(cifar_tar, None)]
    assert no_tiny == [False] * 21 + [True] * 10


def test_the_suite_plan_reads_cifar_once_and_repeats_its_error(tmp_path):
    broken = tmp_path / "cifar-10-python.tar.gz"
    broken.write_bytes(b"not an archive")
    plan = [derive for entry, derive in suite_plan(broken, None) if entry["source"] == "cifar10"]
    errors = set()
    for derive in plan:
        with pytest.raises(DataError, match="not a readable .tar.gz") as exc:
            derive()
        errors.add(str(exc.value))
        broken.unlink(missing_ok=True)  # read once: later entries never look again
    assert len(errors) == 1


def test_the_cli_writes_an_npz(tmp_path, cifar_tar, capsys):
    out = tmp_path / "o" / "pair.npz"
    rc = main(
        ["cifar10", "--classes", "airplane,auto", "--source", str(cifar_tar), "--out", str(out)]
    )
    assert rc == 0
    data = load_npz(out)
    assert data.classes == ["airplane", "automobile"] and len(data.y_train) == 20
    assert '"train": 20' in capsys.readouterr().out


def test_the_cli_gives_one_line_and_status_2_on_bad_input(tmp_path, cifar_tar, capsys):
    rc = main(
        ["cifar10", "--classes", "airplane,plane", "--source", str(cifar_tar), "--out", "x.npz"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: unknown CIFAR-10 class 'plane'")
    assert err.count("\n") == 1


def test_python_m_derives_the_suite_from_the_sources_given(tmp_path, cifar_tar):
    run = subprocess.run(
        [sys.executable, "-m", "searchapp.nas.derived", "suite", "--cifar", str(cifar_tar),
         "--out", str(tmp_path / "suite")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "suite").glob("*.npz"))) == 21
    assert run.stdout.splitlines()[0].startswith("airplane, auto ")
    assert "Tiny-ImageNet" not in run.stdout
