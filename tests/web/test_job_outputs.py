"""The search job's outputs: write_outputs' artifacts keyed by download kind, not by suffix."""

from searchapp.storage import search_dir
from searchapp.tasks.search import _relative_outputs


def test_outputs_are_keyed_by_artifact_so_both_onnx_files_keep_their_kind():
    folder = search_dir(7)
    names = {
        "result": "result.json",
        "weights": "model.pt",
        "onnx": "model.onnx",
        "int8_onnx": "model_int8.onnx",
        "int8_tflite": "model_int8.tflite",
        "c_source": "model_data.cc",
        "c_header": "model_data.h",
    }
    outputs = _relative_outputs({k: str(folder / v) for k, v in names.items()})
    assert outputs == {
        "json": "searches/7/result.json",
        "pt": "searches/7/model.pt",
        "onnx": "searches/7/model.onnx",
        "int8_onnx": "searches/7/model_int8.onnx",
        "int8_tflite": "searches/7/model_int8.tflite",
        "c_source": "searches/7/model_data.cc",
        "c_header": "searches/7/model_data.h",
    }
