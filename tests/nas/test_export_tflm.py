"""TensorFlow Lite Micro as the judge of the int8 export, and the Arduino library a user flashes.

One tiny network is trained on a generated two-class set (airplane / automobile stand-ins),
exported once for the nano33ble target, and checked: the real arena is the smallest that works,
TFLM scores the test split as LiteRT does (within one image), the C header and the Arduino zip
carry that arena.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile

import numpy as np
import pytest

from searchapp.nas import tflm
from searchapp.nas.arduino import LIBRARY, RESOLVER
from searchapp.nas.export import write_outputs
from searchapp.nas.space import Arch
from tests.builders import make_data
from tests.nas.test_int8 import FAST, _trained

CLASSES = ("airplane", "automobile")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = make_data(classes=CLASSES, n_train=40, n_test=20)
    result = _trained(Arch.initial(3, 8), data, epochs=4)
    result.config = {"seed": 0, "target": "nano33ble"}
    out = tmp_path_factory.mktemp("tflm")
    paths = write_outputs(result, data, out, int8=True, **FAST)
    return data, result, out, paths


def test_result_json_has_the_tflm_entry(run):
    import tflite_micro

    _, result, out, paths = run
    entry = result.exports["tflm"]
    assert "error" not in entry, entry
    assert entry["file"] == "model_int8.tflite" and entry["precision"] == "int8"
    assert entry["runtime"] == f"TensorFlow Lite Micro {tflite_micro.__version__}"
    assert entry["arena_search"] == "bisection on arena_size to 1 byte"
    assert entry["ops"][:2] == ["DEPTHWISE_CONV_2D", "CONV_2D"]
    assert {"MEAN", "FULLY_CONNECTED"} <= set(entry["ops"])
    # nano33ble: 256 KB SRAM less the 64 KB reserve
    assert entry["fits"] == {
        "ok": True,
        "arena_kb": round(entry["arena_bytes"] / 1024, 1),
        "budget_kb": 192.0,
        "by": "target nano33ble",
    }
    saved = json.loads((out / "result.json").read_text())
    assert saved["exports"]["tflm"] == json.loads(json.dumps(entry))
    assert set(paths) >= {"int8_tflite", "c_source", "c_header", "arduino"}


def test_the_arena_is_the_smallest_in_which_tflm_runs_the_model(run):
    _, result, out, _ = run
    arena = result.exports["tflm"]["arena_bytes"]
    model = (out / "model_int8.tflite").read_bytes()
    assert tflm._works(model, arena) and tflm._works(model, arena + 64)
    assert not tflm._works(model, arena - 1) and not tflm._works(model, arena - 16)
    # the estimate made before training bounds it: at most 2% under, 10% over
    estimate = result.exports["tflm"]["estimate_bytes"]
    assert 0.98 * arena <= estimate <= 1.10 * arena


def test_tflm_scores_the_test_split_as_litert_does_within_one_image(run):
    data, result, out, _ = run
    e = result.exports
    one_image = 100.0 / len(data.y_test)
    assert abs(e["tflm"]["test_acc"] - e["int8_tflite"]["test_acc"]) <= one_image + 1e-9
    assert e["tflm"]["vs_tflite"] == pytest.approx(
        e["tflm"]["test_acc"] - e["int8_tflite"]["test_acc"]
    )
    # the score is the interpreter's own predictions over the whole test split
    predicted = tflm.classify(out / "model_int8.tflite", e["tflm"]["arena_bytes"], data.x_test)
    assert e["tflm"]["test_acc"] == round(float((predicted == data.y_test).mean() * 100), 2)
    assert e["tflm"]["test_acc"] >= 75  # the task is easy: the model learnt it


def test_the_c_header_carries_the_measured_arena(run):
    _, result, out, _ = run
    header = (out / "model_data.h").read_text()
    entry = result.exports["tflm"]
    assert f"#define MODEL_TFLM_ARENA_BYTES {entry['arena_bytes']}\n" in header
    assert f"#define MODEL_ARENA_MARGIN_BYTES {entry['margin_bytes']}\n" in header
    assert "#define MODEL_ARENA_BYTES (MODEL_TFLM_ARENA_BYTES + MODEL_ARENA_MARGIN_BYTES)" in header
    assert 1024 <= entry["margin_bytes"] <= 1024 + 64 * 1024 and entry["margin_bytes"] % 16 == 0


def _zip(out) -> dict[str, bytes]:
    with zipfile.ZipFile(out / "model_arduino.zip") as z:
        return {name: z.read(name) for name in z.namelist()}


def test_the_arduino_library_zip_has_the_layout_and_the_arena(run):
    data, result, out, _ = run
    files = _zip(out)
    top = f"{LIBRARY}/"
    assert set(files) == {
        top + "library.properties",
        top + "src/model_data.h",
        top + "src/model_data.cpp",
        top + "examples/classify_image/classify_image.ino",
        top + "examples/classify_image/test_image.h",
    }
    props = dict(
        line.split("=", 1) for line in files[top + "library.properties"].decode().splitlines()
    )
    assert props["name"] == LIBRARY and props["version"] == "1.0.0"
    assert props["depends"] == "Arduino_TensorFlowLite" and props["includes"] == "model_data.h"
    arena = result.exports["tflm"]["arena_bytes"]
    header = files[top + "src/model_data.h"].decode()
    assert f"#define MODEL_TFLM_ARENA_BYTES {arena}\n" in header
    assert header == (out / "model_data.h").read_text()
    assert files[top + "src/model_data.cpp"].decode() == (out / "model_data.cc").read_text()
    sketch = files[top + "examples/classify_image/classify_image.ino"].decode()
    assert "tensor_arena[MODEL_ARENA_BYTES]" in sketch
    assert (
        "MicroInterpreter interpreter(model, resolver, tensor_arena, MODEL_ARENA_BYTES)" in sketch
    )
    ops = result.exports["tflm"]["ops"]
    assert f"MicroMutableOpResolver<{len(ops)}>" in sketch
    for op in ops:
        assert f"resolver.{RESOLVER[op]}();" in sketch
    assert result.exports["arduino"]["file"] == "model_arduino.zip"
    assert result.exports["arduino"]["bytes"] == (out / "model_arduino.zip").stat().st_size


def test_the_sketchs_test_image_is_the_models_int8_input(run):
    data, result, out, _ = run
    text = _zip(out)[f"{LIBRARY}/examples/classify_image/test_image.h"].decode()
    body = text.split("g_test_image[] = {", 1)[1].split("};", 1)[0]
    values = [int(v) for v in body.replace(",", " ").split()]
    io = result.exports["int8_tflite"]["io"]  # input scale 1/255, zero point -128: p - 128
    q = np.round(data.x_test[0] / 255.0 / io["input_scale"]) + io["input_zero_point"]
    assert values == np.clip(q, -128, 127).astype(int).ravel().tolist()
    assert f"g_test_image_len = {data.image_size**2 * 3};" in text
    assert f'g_test_image_label = "{CLASSES[int(data.y_test[0])]}";' in text
    host = tflm.classify(
        out / "model_int8.tflite", result.exports["tflm"]["arena_bytes"], data.x_test[:1]
    )
    assert f'g_test_image_host_class = "{CLASSES[int(host[0])]}";' in text


def test_a_ram_budget_under_the_arena_is_a_verdict_with_the_numbers():
    assert tflm.fits(70904, 64.0, "max_ram_kb") == {
        "ok": False,
        "arena_kb": 69.2,
        "budget_kb": 64.0,
        "by": "max_ram_kb",
    }
    assert tflm.fits(70904, None) is None  # no RAM limit: no verdict
    assert tflm.ram_limit({"target": "nano33ble"}) == (192.0, "target nano33ble")
    assert tflm.ram_limit({"target": "nano33ble", "max_ram_kb": 100}) == (100.0, "max_ram_kb")
    assert tflm.ram_limit({"seed": 0}) == (None, "")


@pytest.mark.skipif(shutil.which("arm-none-eabi-g++") is None, reason="no arm-none-eabi-g++")
def test_the_libraries_model_data_compiles_for_a_cortex_m4(run, tmp_path):
    _, _, out, _ = run
    src = tmp_path / "src"
    src.mkdir()
    for name, blob in _zip(out).items():
        if "/src/" in name:
            (src / name.rsplit("/", 1)[1]).write_bytes(blob)
    obj = tmp_path / "model_data.o"
    cmd = ["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-Os", "-std=c++17", "-c"]
    subprocess.run([*cmd, str(src / "model_data.cpp"), "-o", str(obj)], check=True)
    sizes = subprocess.run(["arm-none-eabi-size", str(obj)], capture_output=True, text=True)
    text, data_, _ = (int(v) for v in sizes.stdout.splitlines()[1].split()[:3])
    assert text + data_ >= (out / "model_int8.tflite").stat().st_size
