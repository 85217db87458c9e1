"""MobileNetV2 / EfficientNet-B0 baselines: Table 5 strides, shapes, and a short training run."""

from __future__ import annotations

import pytest
import torch

from searchapp.nas.baselines import (
    BASELINES,
    build_baseline,
    count_macs,
    strided_convs,
    train_baseline,
)
from searchapp.nas.train import Cancelled, get_recipe
from tests.builders import make_data


@pytest.fixture(autouse=True)
def one_thread():
    """Small nets on a shared 2-core box: a second OpenMP thread makes each op far slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# torchvision's stride-2 convs: stem, then the first block of the 24, 40/32, 80/64, 192/160 stages
STRIDED = {
    "mobilenet_v2": [
        "features.0.0",
        "features.2.conv.1.0",
        "features.4.conv.1.0",
        "features.7.conv.1.0",
        "features.14.conv.1.0",
    ],
    "efficientnet_b0": [
        "features.0.0",
        "features.2.0.block.1.0",
        "features.3.0.block.1.0",
        "features.4.0.block.1.0",
        "features.6.0.block.1.0",
    ],
}


@pytest.mark.parametrize("name", list(BASELINES))
def test_it_makes_the_first_two_strides_one_for_32px(name):
    assert strided_convs(build_baseline(name, 10, 224)) == STRIDED[name]
    assert strided_convs(build_baseline(name, 10, 32)) == STRIDED[name][2:]


@pytest.mark.parametrize("name, size, final", [
    ("mobilenet_v2", 32, 4), ("mobilenet_v2", 224, 7),
    ("efficientnet_b0", 32, 4), ("efficientnet_b0", 224, 7),
])  # fmt: skip
def test_it_maps_an_image_to_class_scores(name, size, final):
    torch.manual_seed(0)
    model = build_baseline(name, 5, size).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 5)
        # Table 5: 32 -> 4x4 before pooling for CIFAR, 224 -> 7x7 for ImageNet
        assert model.features(torch.zeros(1, 3, size, size)).shape[-1] == final


@pytest.mark.parametrize("name, millions", [("mobilenet_v2", 2.24), ("efficientnet_b0", 4.02)])
def test_it_has_the_paper_parameter_count(name, millions):
    model = build_baseline(name, 10, 32)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(millions, abs=0.01)


def test_macs_grow_with_the_smaller_strides():
    m = build_baseline("mobilenet_v2", 10, 224)
    assert count_macs(m, 224) == pytest.approx(300e6, rel=0.02)  # MobileNetV2's published 300M
    assert count_macs(build_baseline("mobilenet_v2", 10, 32), 32) > count_macs(m, 32)


def test_it_rejects_unknown_names_and_heads():
    with pytest.raises(ValueError, match="Unsupported baseline 'resnet50'"):
        build_baseline("resnet50", 10, 32)
    with pytest.raises(ValueError, match="num_classes"):
        build_baseline("mobilenet_v2", 1, 32)


@pytest.mark.parametrize("name", list(BASELINES))
def test_it_trains_for_an_epoch_like_a_candidate(name):
    data = make_data(n_train=16, n_test=6, size=16)
    epochs = []
    res = train_baseline(
        name, data, get_recipe("fast", epochs=1), seed=0, device="cpu", on_epoch=epochs.append
    )
    assert res["epochs"] == 1 and len(res["loss_curve"]) == 1 and res["status"] == "ok"
    assert 0 <= res["test_acc"] <= 100 and res["params"] > 1_000_000
    assert res["image_size"] == 16 and res["strides"] == "cifar"
    assert epochs == [
        {
            "epoch": 1,
            "epochs": 1,
            "loss": res["loss_curve"][0],
            "train_acc": res["train_acc"],
            "test_acc": res["test_acc"],
        }
    ]
    assert "state_dict" not in res


def test_it_upscales_to_the_size_asked_and_is_seeded():
    data = make_data(n_train=8, n_test=4, size=16)
    recipe = get_recipe("fast", epochs=1, batch_size=8)
    a = train_baseline("mobilenet_v2", data, recipe, device="cpu", image_size=96, keep_state=True)
    b = train_baseline("mobilenet_v2", data, recipe, device="cpu", image_size=96)
    assert a["strides"] == "imagenet" and a["image_size"] == 96
    assert a["loss_curve"] == b["loss_curve"] and a["test_acc"] == b["test_acc"]
    assert "features.0.0.weight" in a["state_dict"]


def test_it_stops_when_asked():
    data = make_data(n_train=8, n_test=4, size=16)
    with pytest.raises(Cancelled):
        train_baseline("mobilenet_v2", data, get_recipe("fast", epochs=1), device="cpu",
                       should_stop=lambda: True)  # fmt: skip
