"""Latency on the board: the cost model against published measurements, its shape (more MACs,
more time; a faster core, less), and the max_latency_ms budget in the engine and the CLI (the
web's column, axis and API: tests/web/test_board_latency.py)."""

from __future__ import annotations

import pytest

from searchapp.nas import latency
from searchapp.nas.budget import Budget, BudgetError
from searchapp.nas.config import SearchConfig
from searchapp.nas.footprint import figures, ops
from searchapp.nas.search import Search
from searchapp.nas.settings import SettingError
from searchapp.nas.space import Arch, SearchSpace
from tests.builders import make_data, write_folder
from tests.nas.test_cli import cli
from tests.nas.test_search import Recorder

BOARDS = ("nano33ble", "stm32f746", "rp2040", "esp32s3")


def plain(depth, width, op="sep", k=3):
    return Arch(depth, width, (op,) * depth, (k,) * depth)


def ms(arch, target, size=32, classes=2):
    return latency.board_latency_ms(ops(arch, 3, size, classes), target)


# ----------------------------------------------------------------------------- calibration


def test_the_reference_networks_have_their_published_mac_counts():
    # MLPerf Tiny (Banbury et al., NeurIPS 2021 Datasets and Benchmarks, table 1): ResNet-8
    # 12.5M MACs, MobileNetV1 x0.25 on 96 x 96 x 3 7.49M MACs
    macs = {name: sum(latency.op_macs(op) for op in m) for name, m in latency.MODELS.items()}
    assert macs["resnet8"] == pytest.approx(12.5e6, rel=0.01)
    assert macs["mobilenet_v1_025_rgb"] == pytest.approx(7.49e6, rel=0.01)
    # DS-CNN: 10x4/2 conv 1->64 on 49x10 (25x5 out) + 4 x (3x3 dw + 1x1 64->64) + dense 64->12
    assert macs["ds_cnn"] == 25 * 5 * 64 * 40 + 4 * (25 * 5 * 64 * (9 + 64)) + 64 * 12
    # the CMSIS-NN paper's CIFAR-10 net: 5x5 convs 3->32 (32x32), 32->32 (16x16), 32->64 (8x8)
    assert (
        macs["cmsis_nn_cifar10"]
        == 32 * 32 * 32 * 75 + 16 * 16 * 32 * 800 + 8 * 8 * 64 * 800 + 10240
    )


def test_every_fitted_figure_is_reproduced_within_25_percent():
    rows = [r for r in latency.calibration_errors() if r["use"] == "fit"]
    assert {r["core"] for r in rows} == {"cortex-m4", "cortex-m7", "cortex-m0plus", "xtensa"}
    for r in rows:
        assert abs(r["error_pct"]) <= 25, r
        assert r["source"].count("http") >= 1, r  # each figure names where it comes from


def test_mobilenet_v2_has_the_mac_counts_keras_publishes():
    # Keras's MobileNetV2 docstring (MACs in millions, truncated): the width multiplier's
    # rounding to multiples of 8 and the 1280-channel last conv as Keras builds them
    published = {(1.0, 224): 300, (1.0, 96): 56, (0.75, 128): 69, (0.5, 160): 50, (0.35, 96): 11}
    for (alpha, res), mmacs in published.items():
        m = latency._mobilenet_v2(alpha, res, 1000)
        assert int(sum(latency.op_macs(op) for op in m) / 1e6) == mmacs, (alpha, res)
    weights = sum(op.weights for op in latency._mobilenet_v2(1.0, 224, 1000))
    assert weights == pytest.approx(3.47e6, rel=0.005)  # its 3.47M parameters
    # the calibration network: alpha 0.30 on 80 x 80, 1000 classes
    assert sum(latency.op_macs(op) for op in latency.MODELS["mobilenet_v2_030_80"]) == 8_970_112


def held_back_bound(row, fitted) -> tuple[float, float, str] | None:
    """The bounds (low, high) a held-back figure's estimate / measured must lie in, and why;
    None where the figure cannot test the model: the network, core and clock of a fitted
    figure (the ratio is then that of the two measurements, whatever the model)."""
    if any(
        (f["model"], f["core"], f["mhz"]) == (row["model"], row["core"], row["mhz"]) for f in fitted
    ):
        return None
    if "SDRAM" in row["board"]:
        return 0, 1, "an arena in external SDRAM: the model leaves its wait states out"
    if row["model"].startswith("espnn_"):
        return 1 / 4, 4, "a single kernel, not a network: within a factor of 4"
    pct = latency.EXPECTED_ERROR_PCT[row["core"]] / 100
    return 1 - pct, 1 + pct, "a network (or its ops) on the core's own memory: the quoted error"


def test_held_back_figures_report_their_error():
    held = [r for r in latency.calibration_errors() if r["use"] == "held back"]
    print("\nheld-back figures (not used by the fit):")
    for r in held:
        print(
            f"  {r['core']:13} {r['model']:22} measured {r['ms']:8.2f} ms  "
            f"estimate {r['estimate_ms']:8.2f} ms  error {r['error_pct']:+6.1f}%  ({r['board']})"
        )
        assert r["source"].count("http") >= 1, r


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7", "cortex-m0plus", "xtensa"])
def test_each_core_is_checked_against_a_held_back_figure(core):
    rows = [r for r in latency.calibration_errors() if r["core"] == core]
    fitted = [r for r in rows if r["use"] == "fit"]
    checks = [(r, held_back_bound(r, fitted)) for r in rows if r["use"] == "held back"]
    checks = [(r, bound) for r, bound in checks if bound is not None]
    assert checks, f"no held-back figure can test the model on {core}"
    for r, (low, high, why) in checks:
        ratio = r["estimate_ms"] / r["ms"]
        assert low < ratio < high, f"{r['model']} on {r['board']}: {ratio:.2f}x ({why})"
    # on the Cortex-M cores a network on the core's own memory, or its ops, is held back and
    # within the error quoted to users (the ESP32-S3's held-back figures are single kernels)
    if core != "xtensa":
        assert any(why.startswith("a network") for _, (_, _, why) in checks), checks


# ----------------------------------------------------------------------------- shape


@pytest.mark.parametrize("target", BOARDS)
def test_more_macs_take_longer_on_a_board(target):
    archs = [plain(3, 16), plain(3, 32), plain(5, 32), plain(5, 64), plain(5, 64, "conv", 5)]
    macs = [figures(a, 3, 32, 2).macs for a in archs]
    assert macs == sorted(macs) and len(set(macs)) == len(macs)
    times = [ms(a, target) for a in archs]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_a_faster_core_takes_less_time():
    arch = plain(4, 32)
    t = {b: ms(arch, b) for b in BOARDS}
    assert t["stm32f746"] < t["nano33ble"] < t["rp2040"]
    assert t["esp32s3"] < t["nano33ble"]
    # the same core at a higher clock: exactly the ratio of the clocks
    op_list = ops(arch, 3, 32, 2)
    slow, fast = (latency.estimate_ms(op_list, "cortex-m4", mhz) for mhz in (64.0, 128.0))
    assert slow == pytest.approx(2 * fast)


@pytest.mark.parametrize("target", ["none", "custom"])
def test_no_board_no_latency(target):
    assert ms(plain(3, 16), target) is None
    assert latency.note(target) == ""


def test_the_note_quotes_the_expected_error():
    assert latency.note("nano33ble").startswith("estimate ±35%: TFLM + CMSIS-NN on the nRF52840")
    assert "ESP-NN" in latency.note("esp32s3")


# ----------------------------------------------------------------------------- the budget


def budget(**settings) -> Budget:
    return Budget.from_config(SearchConfig.from_dict(settings))


def test_over_budget_names_the_latency():
    arch = plain(3, 16)  # within the board's RAM and flash
    fig = figures(arch, 3, 32, 2)
    b = budget(target="nano33ble", max_latency_ms=10)
    t = b.latency_ms(arch, 3, 32, 2)
    assert t == ms(arch, "nano33ble") and t > 10
    assert (
        b.over(fig, t)
        == f"latency on nano33ble {t:,.1f} ms over the 10.0 ms budget (max_latency_ms)"
    )
    assert b.first_over(fig, t) == "board_latency_ms"
    assert budget(target="nano33ble", max_latency_ms=t).over(fig, t) is None  # at the limit fits
    assert "latency on the board <= 10.0 ms" in b.describe()


@pytest.mark.parametrize("target", ["none", "custom"])
def test_max_latency_needs_a_board(target):
    with pytest.raises(SettingError) as exc:
        SearchConfig.from_dict({"target": target, "max_latency_ms": 50, "max_params": 10**6})
    assert exc.value.field == "max_latency_ms"
    assert "needs a board" in str(exc.value) and "nano33ble" in str(exc.value)


def test_a_latency_nothing_meets_is_refused_before_training():
    space = SearchSpace(min_depth=3, max_depth=6, min_width=16, max_width=64)
    with pytest.raises(BudgetError) as exc:
        budget(target="rp2040", max_latency_ms=0.01).check_space(space, 3, 32, 10)
    assert exc.value.field == "max_latency_ms"
    assert "ms on rp2040" in str(exc.value) and "latency on rp2040" in str(exc.value)


def test_the_search_records_the_latency_and_skips_a_candidate_over_it():
    # on the ESP32-S3 every network of the space fits RAM and flash: only the latency limits
    limit = (ms(plain(4, 64), "esp32s3") + ms(plain(5, 64), "esp32s3")) / 2
    rec, events = Recorder(), []
    cfg = SearchConfig.from_dict({"target": "esp32s3", "max_latency_ms": limit})
    result = Search(cfg, evaluator=rec, on_event=events.append, num_classes=2).run()
    for c in result.candidates:
        assert c["board_latency_ms"] == ms(Arch.from_dict(c["arch"]), "esp32s3")
    over = [c for c in result.candidates if c["status"] == "over_budget"]
    assert over and all(c["board_latency_ms"] > limit for c in over)
    assert all(
        "latency on esp32s3" in c["reason"] and "max_latency_ms" in c["reason"] for c in over
    )
    assert plain(5, 64) not in rec.calls  # never trained
    started = [e for e in events if e["type"] == "candidate.started"]
    assert started and all(e["board_latency_ms"] is not None for e in started)
    plain_search = Search(SearchConfig.from_dict({}), evaluator=Recorder(), num_classes=2).run()
    assert all(c["board_latency_ms"] is None for c in plain_search.candidates)


# ----------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--max-latency-ms", "50"], "max_latency_ms needs a board"),
        (["--target", "nano33ble", "--max-latency-ms", "-1"], "max_latency_ms"),
        (["--target", "nano33ble", "--max-latency-ms", "soon"], "max-latency-ms"),
        (["--target", "nano33ble", "--max-latency-ms", "0.01"], "latency on nano33ble"),
    ],
)
def test_the_cli_refuses_bad_latency_flags_in_one_line(tmp_path, extra, message):
    data = write_folder(tmp_path / "data", make_data())
    proc = cli("search", data, "--out", tmp_path / "out", *extra)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
