"""Fixtures for try-it's tests: a real exported model.onnx and a finished search that has it.

A plugin of tests/conftest.py; a module with its own `finished` fixture keeps its own."""

from __future__ import annotations

import pytest

from tests.builders import finish_with_weights


def exported_onnx(num_classes: int, size: int, tmp_path) -> bytes:
    """A real Mini-NAS network (untrained), exported by the engine as the search job does."""
    import torch

    from searchapp.nas.export import Classifier, export_onnx
    from searchapp.nas.model import build_model
    from searchapp.nas.space import Arch

    torch.manual_seed(0)
    arch = Arch.from_dict(
        {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
    )
    net = build_model(arch, 3, num_classes)
    model = Classifier(net, [0.5] * 3, [0.25] * 3, None).eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, size, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def onnx_bytes(tmp_path_factory):
    return exported_onnx(2, 16, tmp_path_factory.mktemp("onnx"))


@pytest.fixture
def finished(search, onnx_bytes):
    finish_with_weights(search, {"onnx": onnx_bytes})
    return search
