"""Try it: POST /api/searches/<id>/predict/ runs the search's model.onnx (ONNX Runtime, CPU)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from searchapp import predict
from tests.builders import class_image, finish_with_weights, png_bytes


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


def _png(label=0, size=16):
    return SimpleUploadedFile("x.png", png_bytes(class_image(label, size)), "image/png")


def _url(search):
    return f"/api/searches/{search.pk}/predict/"


def test_it_scores_one_image_per_class(alice_client, finished):
    r = alice_client.post(_url(finished), {"image": [_png(0), _png(1, size=40)]})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["classes"] == ["cat", "dog"]
    assert len(body["predictions"]) == 2
    for p in body["predictions"]:
        assert len(p["scores"]) == 2 and abs(sum(p["scores"]) - 100) < 0.1
        assert p["top"] == body["classes"][int(np.argmax(p["scores"]))]


def test_the_scores_match_the_engine_model_on_the_same_pixels(alice_client, finished, tmp_path):
    """Decoding, scaling and layout match the loader: same input, same scores as torch."""
    import onnxruntime as ort

    img = class_image(1, 16)
    r = alice_client.post(_url(finished), {"image": SimpleUploadedFile("a.png", png_bytes(img))})
    got = r.json()["predictions"][0]["scores"]
    path = tmp_path / "m.onnx"
    path.write_bytes(finished_bytes(finished))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = (img.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    want = predict.softmax(sess.run(None, {"image": x})[0].astype(np.float64))[0] * 100
    assert np.allclose(got, want, atol=0.02)


def finished_bytes(search) -> bytes:
    from searchapp.storage import media_path

    return media_path(search.outputs["onnx"]).read_bytes()


def test_the_session_is_cached_per_file(finished):
    path = predict.model_path(finished)
    assert predict.session_for(path) is predict.session_for(path)


@pytest.mark.parametrize(
    "files, status, reason",
    [
        ({}, 400, "multipart field 'image'"),
        ({"image": SimpleUploadedFile("a.txt", b"not an image at all")}, 400, "not an image"),
        ({"image": SimpleUploadedFile("e.png", b"")}, 400, "empty"),
    ],
)
def test_bad_input_gets_a_reason(alice_client, finished, files, status, reason):
    r = alice_client.post(_url(finished), files)
    assert r.status_code == status
    assert reason in r.json()["error"]


def test_too_many_images(alice_client, finished):
    files = [_png() for _ in range(predict.MAX_FILES + 1)]
    r = alice_client.post(_url(finished), {"image": files})
    assert r.status_code == 400
    assert "at most" in r.json()["error"]


def test_too_large_a_request_is_refused(alice_client, finished, settings):
    big = SimpleUploadedFile("big.png", b"\0" * (settings.REQUEST_MAX_BYTES + 10))
    r = alice_client.post(_url(finished), {"image": big})
    assert r.status_code == 413


def test_too_large_an_image_file(alice_client, finished, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 100
    r = alice_client.post(_url(finished), {"image": _png()})
    assert r.status_code == 413 and "larger than" in r.json()["error"]


def test_a_search_without_a_model_is_409(alice_client, search):
    r = alice_client.post(_url(search), {"image": _png()})
    assert r.status_code == 409
    assert "no model" in r.json()["error"]


def test_another_users_search_is_404(bob_client, finished):
    r = bob_client.post(_url(finished), {"image": _png()})
    assert r.status_code == 404


def test_get_is_405(alice_client, finished):
    assert alice_client.get(_url(finished)).status_code == 405


def test_the_finished_page_has_the_try_it_box(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert 'id="try-it"' in html and f'data-predict-url="{_url(finished)}"' in html


def test_an_unfinished_page_has_no_try_it_box(alice_client, search):
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    assert re.search(r'<section id="try-it"[^>]* hidden', html)


def test_a_script_uses_a_token(finished, alice):
    from django.test import Client

    from searchapp.tokens import create_token

    token = create_token(alice, "script")[1]
    r = Client().post(_url(finished), {"image": _png()}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200
    assert r.json()["predictions"][0]["top"] in ("cat", "dog")


def test_a_session_needs_the_csrf_token(finished, alice):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    assert c.post(_url(finished), {"image": _png()}).status_code == 403
