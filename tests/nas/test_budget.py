"""Device budgets: limits from settings and boards, over/under, refusing a search nothing fits
(engine, CLI, form, API), and the record's RAM / flash fields."""

from __future__ import annotations

import json

import pytest

from searchapp.nas.budget import Budget, BudgetError
from searchapp.nas.config import SearchConfig
from searchapp.nas.footprint import Figures, figures
from searchapp.nas.record import CandidateRecord
from searchapp.nas.settings import SettingError
from searchapp.nas.space import Arch, SearchSpace
from searchapp.nas.targets import BOARDS, FLASH_RESERVE_KB, RAM_RESERVE_KB
from tests.builders import make_data, write_folder
from tests.nas.test_cli import cli


def budget(**settings) -> Budget:
    return Budget.from_config(SearchConfig.from_dict(settings))


def test_no_target_and_no_limit_is_no_budget():
    b = budget()
    assert not b.active and b.limits == {}
    assert b.over(Figures(10**9, 10**12, 10**6, 10**6)) is None


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_a_board_sets_ram_and_flash_to_its_memory_less_the_reserve(name):
    board = BOARDS[name]
    b = budget(target=name)
    assert b.limits == {
        "ram_kb": board.ram_kb - RAM_RESERVE_KB,
        "flash_kb": board.flash_kb - FLASH_RESERVE_KB,
    }


def test_given_limits_replace_the_boards_and_add_to_it():
    b = budget(target="nano33ble", max_ram_kb=100, max_params=5000)
    assert b.limits == {"params": 5000, "ram_kb": 100.0, "flash_kb": 1024.0 - FLASH_RESERVE_KB}
    assert b.sources == {"params": "max_params", "ram_kb": "max_ram_kb", "flash_kb": "target"}


def test_over_names_the_first_figure_over_its_limit():
    b = budget(target="nano33ble", max_params=50_000)
    fits = Figures(params=40_000, macs=10**6, ram_kb=150.0, flash_kb=60.0)
    assert b.over(fits) is None
    reason = b.over(Figures(params=40_000, macs=10**6, ram_kb=210.5, flash_kb=60.0))
    assert reason == "peak RAM 210.5 KB over the 192.0 KB budget of nano33ble"
    reason = b.over(Figures(params=60_000, macs=10**6, ram_kb=210.5, flash_kb=900.0))
    assert reason == "parameters 60,000 over the 50,000 budget (max_params)"
    assert b.first_over(Figures(40_000, 10**6, 100.0, 900.0)) == "flash_kb"
    # exactly at the limit fits: on the board, flash is the model plus TFLM's code
    code = BOARDS["nano33ble"].code_kb()
    limit = 1024.0 - FLASH_RESERVE_KB
    assert b.over(Figures(50_000, 10**6, 192.0, round(limit - code, 1))) is None
    reason = b.over(Figures(40_000, 10**6, 100.0, 900.0))
    total = round(900.0 + code, 1)
    assert reason == (
        f"flash {total:,.1f} KB (model 900.0 KB + TFLM code {code:,.1f} KB) over the "
        f"{limit:,.1f} KB budget of nano33ble"
    )


def test_a_board_checks_ram_with_its_kernels_scratch_and_flash_with_tflms_code():
    fig = Figures(1000, 10**6, ram_kb=180.0, flash_kb=100.0, board_ram_kb=200.5, op_kinds=("pad",))
    b = budget(target="nano33ble")
    assert b.figure(fig, "ram_kb") == 200.5  # CMSIS-NN's scratch buffers on a Cortex-M4
    assert b.over(fig) == "peak RAM 200.5 KB over the 192.0 KB budget of nano33ble"
    assert b.figure(fig, "flash_kb") == round(100.0 + BOARDS["nano33ble"].code_kb(("pad",)), 1)
    assert BOARDS["nano33ble"].code_kb(("pad",)) > BOARDS["nano33ble"].code_kb()
    # without a board the figures are the model's alone
    custom = budget(max_ram_kb=190, max_flash_kb=100)
    assert custom.figure(fig, "ram_kb") == 180.0 and custom.figure(fig, "flash_kb") == 100.0
    assert custom.over(fig) is None


def test_macs_budget():
    b = budget(max_macs=1_000_000)
    assert b.over(Figures(1, 2_500_000, 1.0, 1.0)) == "MACs 2.50M over the 1.00M budget (max_macs)"


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"target": "custom"}, "target"),
        ({"target": "uno"}, "target"),
        ({"max_ram_kb": -1}, "max_ram_kb"),
        ({"max_flash_kb": 0}, "max_flash_kb"),
        ({"max_params": 0}, "max_params"),
        ({"max_macs": "lots"}, "max_macs"),
    ],
)
def test_bad_budget_settings_name_their_field(settings, field):
    with pytest.raises(SettingError) as exc:
        SearchConfig.from_dict(settings)
    assert exc.value.field == field


def test_custom_takes_any_one_limit():
    assert budget(target="custom", max_flash_kb=64).limits == {"flash_kb": 64.0}
    cfg = SearchConfig.from_dict({"target": "custom", "max_params": 10_000})
    assert cfg.to_dict()["target"] == "custom" and cfg.to_dict()["max_ram_kb"] is None


def test_the_smallest_architecture_and_its_figures():
    space = SearchSpace(min_depth=4, max_depth=8, min_width=16, max_width=32, kernels=(5, 7))
    b = budget(target="nano33ble")
    assert b.smallest(space, "cifar") == Arch(4, 16, ("sep",) * 4, (5,) * 4, "cifar")
    assert b.check_space(space, 3, 32, 10) == figures(b.smallest(space, "cifar"), 3, 32, 10)


def test_a_space_nothing_fits_is_refused_with_the_smallest_figures():
    space = SearchSpace(min_depth=3, max_depth=6, min_width=16, max_width=64)
    fig = figures(Arch.initial(3, 16), 3, 32, 10)
    b = budget(max_ram_kb=fig.ram_kb - 1)
    with pytest.raises(BudgetError) as exc:
        b.check_space(space, 3, 32, 10)
    msg = str(exc.value)
    assert exc.value.field == "max_ram_kb" and isinstance(exc.value, SettingError)
    assert "L3 C16 s3 s3 s3" in msg
    assert f"{fig.params:,} parameters" in msg and f"{fig.macs:,} MACs" in msg
    assert f"{fig.ram_kb:,.1f} KB peak RAM" in msg and f"{fig.flash_kb:,.1f} KB flash" in msg
    # a board's limit is named by the target field
    with pytest.raises(BudgetError) as exc:
        budget(target="nano33ble").check_space(space, 3, 224, 10)  # 224 px: imagenet stem
    assert exc.value.field == "target" and "nano33ble" in str(exc.value)


def test_the_record_carries_ram_and_flash():
    rec = CandidateRecord(0, "depth", Arch.initial(3, 8).to_dict(), params=5, ram_kb=12.5)
    rec.flash_kb = 40.25
    started = rec.started()
    assert started["ram_kb"] == 12.5 and started["flash_kb"] == 40.25
    assert rec.public()["ram_kb"] == 12.5
    again = CandidateRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert (again.ram_kb, again.flash_kb) == (12.5, 40.25)
    assert CandidateRecord.from_dict({"index": 0, "phase": "depth", "arch": {}}).ram_kb == 0.0


# ----------------------------------------------------------------------------- refused early


def test_the_cli_refuses_a_budget_nothing_fits_in_one_line(tmp_path):
    data = write_folder(tmp_path / "data", make_data())
    proc = cli("search", data, "--out", tmp_path / "out", "--max-flash-kb", "1", "--epochs", "1")
    assert proc.returncode == 2, proc.stdout
    assert "no architecture within the bounds fits" in proc.stderr and "KB flash" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "result.json").exists()


@pytest.mark.parametrize(
    "extra, message",
    [(["--target", "uno"], "invalid choice"), (["--max-ram-kb", "-5"], "max_ram_kb")],
)
def test_the_cli_refuses_bad_budget_flags(tmp_path, extra, message):
    data = write_folder(tmp_path / "data", make_data())
    proc = cli("search", data, "--out", tmp_path / "out", *extra)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_api_refuses_a_budget_nothing_fits(alice_client, dataset):
    from searchapp.models import Search

    payload = {"dataset": dataset.pk, "max_ram_kb": 0.5}
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert "no architecture within the bounds fits" in errors["max_ram_kb"][0]
    assert "KB peak RAM" in errors["max_ram_kb"][0]
    assert Search.objects.count() == 0
    payload = {"dataset": dataset.pk, "target": "custom"}
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 400 and "target" in r.json()["errors"]


def test_the_form_refuses_a_budget_nothing_fits_beside_the_field(alice_client, dataset):
    from searchapp.forms import search_form_from_dict

    form = search_form_from_dict({"dataset": dataset.pk, "max_params": 100}, dataset.owner)
    assert not form.is_valid()
    assert "parameters" in form.errors["max_params"][0]
    ok = search_form_from_dict({"dataset": dataset.pk, "target": "nano33ble"}, dataset.owner)
    assert ok.is_valid(), ok.errors
    assert ok.config["target"] == "nano33ble"
