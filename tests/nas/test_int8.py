"""int8 exports: each file runs in its own runtime and scores close to float32 on the test split.

One tiny network is trained once (16 px, 2 classes, a few epochs) and exported once per module:
the litert-torch conversion costs several seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort
import pytest

from searchapp.nas.artifacts import int8_loss
from searchapp.nas.config import get_recipe
from searchapp.nas.export import write_outputs
from searchapp.nas.int8 import c_array_bytes, tflite_interpreter
from searchapp.nas.space import Arch
from searchapp.nas.train import train_candidate
from tests.builders import make_data

FAST = dict(calibration_images=24, latency_runs=5)
INT8_FILES = ("model_int8.onnx", "model_int8.tflite", "model_data.cc", "model_data.h")


@dataclass
class Trained:
    """What write_outputs reads of a search result: the best architecture and its weights."""

    best: dict
    best_state: dict
    config: dict = field(default_factory=lambda: {"seed": 0})
    final: dict | None = None
    exports: dict | None = None

    def to_json(self) -> dict:
        return {"best": self.best, "config": self.config, "exports": self.exports}


def _trained(arch: Arch, data, epochs: int = 6) -> Trained:
    res = train_candidate(arch, data, get_recipe("fast", epochs=epochs), device="cpu")
    best = {"arch": arch.to_dict(), "test_acc": res.test_acc, "index": 0}
    return Trained(best=best, best_state=res.state_dict)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    data = make_data(n_train=48, n_test=24)
    result = _trained(Arch.initial(3, 8), data)
    out = tmp_path_factory.mktemp("int8")
    paths = write_outputs(result, data, out, int8=True, **FAST)
    return data, result, out, paths


def test_every_int8_artifact_is_written_and_measured(exported):
    _, result, out, paths = exported
    assert set(paths) == {
        "result",
        "weights",
        "onnx",
        "int8_onnx",
        "int8_tflite",
        "c_source",
        "c_header",
        "arduino",
    }
    for name in INT8_FILES:
        assert (out / name).is_file()
    exports = result.exports
    assert set(exports) == {
        *("pt", "onnx", "int8_onnx", "int8_tflite", "tflm", "c_source", "c_header", "arduino")
    }
    for name in ("pt", "onnx", "int8_onnx", "int8_tflite"):
        entry = exports[name]
        assert "error" not in entry, entry
        assert entry["bytes"] == (out / entry["file"]).stat().st_size
        assert 0 <= entry["test_acc"] <= 100
        assert entry["latency_ms"] > 0
        assert "host CPU" in entry["latency_on"] and "batch 1" in entry["latency_on"]
    assert exports["pt"]["precision"] == exports["onnx"]["precision"] == "float32"
    assert exports["int8_tflite"]["runtime"].startswith("LiteRT")
    assert exports["int8_onnx"]["runtime"].startswith("ONNX Runtime")
    # result.json is written last and holds the same figures
    saved = json.loads((out / "result.json").read_text())
    assert saved["exports"] == json.loads(json.dumps(exports))


def test_int8_accuracy_is_close_to_float32_on_an_easy_task(exported):
    _, result, _, _ = exported
    e = result.exports
    assert e["onnx"]["test_acc"] >= 80  # the task is easy: the float model learnt it
    assert abs(e["pt"]["test_acc"] - e["onnx"]["test_acc"]) < 1e-6
    for name in ("int8_onnx", "int8_tflite"):
        assert abs(e[name]["test_acc"] - e["onnx"]["test_acc"]) <= 5, (name, e)
        assert e[name]["vs_float32"] == pytest.approx(e[name]["test_acc"] - e["onnx"]["test_acc"])


def test_the_accuracy_is_computed_against_the_test_split(exported):
    data, result, out, _ = exported
    session = ort.InferenceSession(str(out / "model_int8.onnx"), providers=["CPUExecutionProvider"])
    x = data.x_test.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    pred = session.run(None, {"image": x})[0].argmax(1)
    expected = round(float((pred == data.y_test).mean() * 100), 2)
    assert result.exports["int8_onnx"]["test_acc"] == expected


def test_the_tflite_has_int8_input_and_output(exported):
    data, result, out, _ = exported
    interp = tflite_interpreter(out / "model_int8.tflite")
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.int8 and outp["dtype"] == np.int8
    assert list(inp["shape"]) == [1, data.image_size, data.image_size, 3]
    scale, zero = inp["quantization"]
    assert scale == pytest.approx(1 / 255, rel=0.02) and zero == -128
    io = result.exports["int8_tflite"]["io"]
    assert io["input_dtype"] == "int8" and io["input_zero_point"] == zero


def test_the_c_array_holds_the_tflite_bytes(exported):
    data, result, out, _ = exported
    raw = (out / "model_int8.tflite").read_bytes()
    assert c_array_bytes(out / "model_data.cc") == raw
    source = (out / "model_data.cc").read_text()
    header = (out / "model_data.h").read_text()
    assert "alignas(16) const unsigned char g_model_data[]" in source
    assert f"const unsigned int g_model_data_len = {len(raw)};" in source
    assert "g_model_input_scale" in source and "g_model_input_zero_point = -128;" in source
    for name in data.classes:
        assert f'"{name}"' in source
    assert f"#define MODEL_NUM_CLASSES {len(data.classes)}" in header
    assert '#include "model_data.h"' in source
    assert result.exports["c_source"]["array_of"] == "model_int8.tflite"


def test_a_failed_export_keeps_the_float32_files_and_says_why(tmp_path):
    data = make_data(n_train=16, n_test=8)
    result = _trained(Arch.initial(3, 8), data, epochs=1)
    (tmp_path / "model_int8.tflite").mkdir()  # a folder in the way: the file cannot be written
    paths = write_outputs(result, data, tmp_path, int8=True, **FAST)
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model.onnx").is_file()
    assert "int8_tflite" not in paths and "c_source" not in paths
    e = result.exports
    assert e["int8_tflite"]["error"] and e["int8_tflite"]["file"] == "model_int8.tflite"
    assert "no .tflite" in e["c_source"]["error"] and "error" in e["c_header"]
    assert "no .tflite" in e["tflm"]["error"] and "no .tflite" in e["arduino"]["error"]
    assert not (tmp_path / "model_data.cc").exists()
    assert "error" not in e["int8_onnx"] and "error" not in e["onnx"]  # the others still ran
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["exports"]["int8_tflite"]["error"] == e["int8_tflite"]["error"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_int8_loss_over_one_point_is_flagged():
    assert int8_loss({"test_acc": 88.4}, 90.0)["flag"] == "int8 loses 1.6 points"
    assert int8_loss({"test_acc": 89.5}, 90.0)["flag"] is None
    assert int8_loss({"test_acc": 91.0}, 90.0) | {} == {
        "test_acc": 91.0,
        "vs_float32": 1.0,
        "flag": None,
    }


# ----------------------------------------------------------------------------- footprint figures

ARCHS = [  # both ops, kernels 3 and 5, two widths; cifar stem on 16 px images, 3 classes
    {"depth": 4, "width": 8, "ops": ["sep", "conv", "sep", "conv"], "kernels": [3, 5, 5, 3]},
    {"depth": 3, "width": 16, "ops": ["conv", "sep", "sep"], "kernels": [5, 3, 5]},
]


@pytest.mark.parametrize("spec", ARCHS, ids=lambda s: "-".join(s["ops"]))
def test_the_footprint_estimates_match_the_exported_tflite(spec, tmp_path):
    """flash_kb within 10% of the .tflite's size; the RAM figure's largest activation pair is
    the interpreter's, and the estimate (which adds scratch buffers) is not below it."""
    import torch

    from searchapp.nas.export import Classifier
    from searchapp.nas.int8 import export_int8_tflite
    from searchapp.nas.model import build_model

    footprint = pytest.importorskip("searchapp.nas.footprint")
    arch = Arch.from_dict(spec | {"stem": "cifar"})
    size, classes = 16, 3
    from tests.nas.test_tflm_calibration import trained_like_batchnorm

    torch.manual_seed(0)
    net = trained_like_batchnorm(build_model(arch, 3, classes))  # BN as training leaves it
    calib = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    path = tmp_path / "model_int8.tflite"
    export_int8_tflite(Classifier(net, [0.5] * 3, [0.25] * 3, None), calib, path)

    fig = footprint.figures(arch, 3, size, classes)
    assert fig.flash_kb * 1024 == pytest.approx(path.stat().st_size, rel=0.10)

    interp = tflite_interpreter(path)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = [op for op in interp._get_ops_details() if op["op_name"] != "DELEGATE"]
    activations = {interp.get_input_details()[0]["index"]} | {
        o for op in ops for o in op["outputs"]
    }

    def nbytes(i: int) -> int:
        t = tensors[i]
        return int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize

    pair = max(
        sum(nbytes(i) for i in op["inputs"] if i in activations)
        + sum(nbytes(o) for o in op["outputs"])
        for op in ops
    )
    estimated_pair = max(op.in_bytes + op.out_bytes for op in footprint.ops(arch, 3, size, classes))
    assert estimated_pair == pair
    assert pair <= fig.ram_kb * 1024  # TFLM's arena holds that pair and its bookkeeping


def test_the_cli_prints_float32_beside_int8_and_survives_a_failed_export(tmp_path, capsys):
    from searchapp.nas.__main__ import main
    from tests.builders import write_folder

    folder = write_folder(tmp_path / "data", make_data(n_train=16, n_test=8))
    out = tmp_path / "out"
    (out / "model_int8.tflite").mkdir(parents=True)  # in the way: that export fails
    tiny = "--min-depth 3 --max-depth 3 --min-width 8 --max-width 8 --width-step 8 --ops sep "
    tiny += "--kernels 3 --epochs 1 --final-epochs 0 --device cpu --export int8"
    assert main(["search", str(folder), "--out", str(out), *tiny.split()]) == 0
    printed = capsys.readouterr().out
    table = printed[printed.index("file ") :]
    for name in ("model.pt", "model.onnx", "model_int8.onnx"):
        row = next(line for line in table.splitlines() if line.startswith(name + " "))
        assert "%" in row and " ms" in row, row
    assert "model_int8.tflite    FAILED: " in table and "model_data.cc        FAILED: " in table
    assert "host CPU" in table and "the float32 files" in table
    assert (out / "model.pt").is_file() and (out / "model_int8.onnx").is_file()
    saved = json.loads((out / "result.json").read_text())
    assert "error" in saved["exports"]["int8_tflite"] and "test_acc" in saved["exports"]["onnx"]
