"""Exports: model.pt loads with weights_only=True; ONNX predictions match PyTorch's."""

import json

import numpy as np
import onnxruntime as ort
import torch

from searchapp.nas.export import checkpoint, load_checkpoint, write_outputs
from searchapp.nas.search import SearchConfig, run_search
from searchapp.nas.space import Arch
from searchapp.nas.train import DeviceData
from tests.builders import make_data

TINY = dict(
    min_depth=3,
    max_depth=3,
    min_width=8,
    max_width=8,
    width_step=8,
    epochs=1,
    ops=("sep",),
    kernels=(3,),
    device="cpu",
)


def _search(tmp_path, **extra):
    data = make_data()
    result = run_search(data, SearchConfig.from_dict(TINY | extra))
    paths = write_outputs(result, data, tmp_path)
    return data, result, paths


def test_it_writes_result_json_weights_and_onnx(tmp_path):
    _, result, paths = _search(tmp_path)
    assert set(paths) == {"result", "weights", "onnx"}
    saved = json.loads((tmp_path / "result.json").read_text())
    assert set(saved) >= {"candidates", "best", "dataset", "config"}
    assert saved["best"]["key"] == result.best["key"]
    ckpt = torch.load(tmp_path / "model.pt", weights_only=True)
    assert ckpt["arch"] == result.best["arch"] and ckpt["classes"] == ["cat", "dog"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_onnx_predictions_match_pytorch(tmp_path):
    data, _, paths = _search(tmp_path)
    model, _ = load_checkpoint(paths["weights"])
    x = torch.from_numpy(data.x_test.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})[0]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_imagenet_stem_export_resizes_inside_the_model(tmp_path):
    data, _, paths = _search(tmp_path, stem="imagenet")
    session = ort.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((3, 3, 16, 16), dtype=np.float32)
    assert session.run(None, {"image": x})[0].shape == (3, 2)


def test_a_full_disk_leaves_no_partial_model(tmp_path, monkeypatch):
    data = make_data()
    result = run_search(data, SearchConfig.from_dict(TINY))

    def no_space(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    try:
        write_outputs(result, data, tmp_path)
    except OSError as exc:
        assert exc.errno == 28
    else:  # pragma: no cover
        raise AssertionError("expected OSError")
    assert not (tmp_path / "model.pt").exists()
    assert not list(tmp_path.iterdir())


def test_the_export_normalises_exactly_as_the_trainer_does():
    data = make_data()
    ckpt = checkpoint(Arch.initial(3, 8), {}, data)
    trained_with = DeviceData(data, torch.device("cpu"))
    assert torch.equal(torch.tensor(ckpt["mean"]), trained_with.mean)
    assert torch.equal(torch.tensor(ckpt["std"]), trained_with.std)
