"""The exported-models table's TFLM row (the real arena, its accuracy, the RAM verdict) and the
Arduino library download."""

from __future__ import annotations

import pytest

from searchapp.models import Search
from searchapp.serializers import ARTIFACTS, export_rows
from searchapp.storage import media_path, search_dir

EXPORTS = {  # as searchapp/nas/export.py writes result.json's "exports"
    "onnx": {"file": "model.onnx", "bytes": 40960, "precision": "float32", "test_acc": 80.0},
    "int8_tflite": {
        "file": "model_int8.tflite",
        "bytes": 13576,
        "precision": "int8",
        "test_acc": 79.5,
        "vs_float32": -0.5,
    },
    "tflm": {
        "file": "model_int8.tflite",
        "precision": "int8",
        "arena_bytes": 70904,
        "arena_search": "bisection on arena_size to 1 byte",
        "test_acc": 79.0,
        "vs_tflite": -0.5,
        "runtime": "TensorFlow Lite Micro 0.dev20261023182759-g8f6596d",
        "ops": ["DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED"],
        "fits": {"ok": False, "arena_kb": 69.2, "budget_kb": 64.0, "by": "max_ram_kb"},
    },
    "arduino": {
        "file": "model_arduino.zip",
        "bytes": 14558,
        "precision": "int8",
        "array_of": "model_int8.tflite",
    },
}


@pytest.fixture
def finished(alice, dataset):
    search = Search.objects.create(owner=alice, dataset=dataset, settings={}, status="finished")
    folder = search_dir(search.pk)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for kind, name in (("int8_tflite", "model_int8.tflite"), ("arduino", "model_arduino.zip")):
        (folder / name).write_bytes(f"{kind} bytes".encode())
        outputs[kind] = (folder / name).relative_to(media_path("").resolve()).as_posix()
    search.outputs, search.exports = outputs, EXPORTS
    search.save()
    return search


def test_the_tflm_row_shows_the_arena_and_flags_a_model_over_the_ram_budget(alice_client, finished):
    r = alice_client.get(f"/searches/{finished.pk}/")
    html = r.content.decode()
    rows = {e["name"]: e for e in r.context["exports"]}
    tflm = rows["tflm"]
    assert tflm["int8"] and not tflm["c_array"] and tflm["arena_over"]
    assert tflm["arena_bytes"] == 70904 and tflm["test_acc"] == 79.0
    assert tflm["url"].endswith(f"/searches/{finished.pk}/download/int8_tflite/")
    assert "arena 69.2 KB" in html and "79.0" in html
    assert 'class="arena-over"' in html
    assert "does not fit: arena 69.2 KB over the 64.0 KB RAM budget (max_ram_kb)" in html
    assert [e["name"] for e in r.context["exports"]] == ["onnx", "int8_tflite", "tflm", "arduino"]


def test_a_model_that_fits_is_not_flagged(alice_client, finished):
    finished.exports = EXPORTS | {
        "tflm": EXPORTS["tflm"] | {"fits": EXPORTS["tflm"]["fits"] | {"ok": True}}
    }
    finished.save()
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert "arena 69.2 KB" in html and "does not fit" not in html
    finished.exports = EXPORTS | {"tflm": EXPORTS["tflm"] | {"fits": None}}  # no RAM budget
    finished.save()
    rows = {e["name"]: e for e in export_rows(finished)}
    assert rows["tflm"]["arena_over"] is False


def test_the_arduino_library_is_a_download(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert 'id="download-arduino"' in html and "Arduino library (.zip)" in html
    r = alice_client.get(f"/searches/{finished.pk}/download/arduino/")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    name = ARTIFACTS["arduino"][0].format(pk=finished.pk)
    assert f'filename="{name}"' in r["Content-Disposition"]
    assert b"".join(r.streaming_content) == b"arduino bytes"
