"""Try it: POST /api/searches/<id>/predict/ runs the search's model.onnx (ONNX Runtime, CPU)."""

from __future__ import annotations

import io
import re
import struct
import threading
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from searchapp import predict
from tests.builders import class_image, png_bytes


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


# ----------------------------------------------------------------------------- hostile images


def _encoded(arr: np.ndarray, fmt: str, name: str, **save) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **save)
    return SimpleUploadedFile(name, buf.getvalue())


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(alice_client, finished, settings):
    settings.PREDICT_MAX_PIXELS = 10_000
    big = _encoded(np.zeros((128, 128, 3), np.uint8), "PNG", "big.png")
    r = alice_client.post(_url(finished), {"image": [_png(), big]})
    assert r.status_code == 413
    assert r.json()["error"] == "big.png: 128x128 pixels is more than allowed (10000)"


def test_a_large_jpeg_counts_the_pixels_it_is_decoded_at(alice_client, finished, settings):
    """A JPEG decodes at 1/8 scale at most (draft): a 256 px one for a 16 px model is 32x32."""
    settings.PREDICT_MAX_PIXELS = 2_000
    photo = _encoded(class_image(1, 256), "JPEG", "photo.jpg")
    r = alice_client.post(_url(finished), {"image": photo})
    assert r.status_code == 200, r.content
    png = _encoded(class_image(1, 256), "PNG", "same.png")
    r = alice_client.post(_url(finished), {"image": png})
    assert r.status_code == 413 and "same.png: 256x256 pixels" in r.json()["error"]


@pytest.mark.parametrize(
    "fmt, options, name, why",
    [
        ("WEBP", {"lossless": True}, "a.webp", "a WebP counts 4 times"),
        ("JPEG", {"progressive": True}, "p.jpg", "a progressive JPEG counts 2 times"),
    ],
)
def test_decoders_that_need_more_memory_count_more_pixels(
    alice_client, finished, settings, fmt, options, name, why
):
    """A WebP decodes through copies of an RGBA canvas; a progressive JPEG holds all of its
    coefficients whatever the scale: 64x64 counts 16,384 or 8,192 pixels, over 6,000."""
    settings.PREDICT_MAX_PIXELS = 6_000
    r = alice_client.post(
        _url(finished), {"image": _encoded(class_image(0, 64), fmt, name, **options)}
    )
    assert r.status_code == 413 and r.json()["error"].startswith(f"{name}: 64x64 pixels ({why}")
    plain = _encoded(class_image(0, 64), "JPEG", "b.jpg")  # baseline: decoded at 1/2, 32x32
    assert alice_client.post(_url(finished), {"image": plain}).status_code == 200


def test_the_images_of_one_request_have_a_pixel_budget(alice_client, finished, settings):
    settings.PREDICT_MAX_REQUEST_PIXELS = 3_000
    r = alice_client.post(_url(finished), {"image": [_png(size=40), _png(size=40)]})
    assert r.status_code == 413
    assert "these 2 images count 3,200 pixels to decode, more than the 3,000" in r.json()["error"]


def test_a_large_image_is_scored_like_its_reduced_copy(alice_client, finished):
    """Reduced in its own mode before any copy: a 1024 px image scores as its 16 px version."""
    small = class_image(1, 16)
    big = np.repeat(np.repeat(small, 64, axis=0), 64, axis=1)
    r = alice_client.post(
        _url(finished), {"image": [_encoded(small, "PNG", "s.png"), _encoded(big, "PNG", "b.png")]}
    )
    a, b = (p["scores"] for p in r.json()["predictions"])
    assert np.allclose(a, b, atol=0.5)


@pytest.mark.parametrize("fmt", ["DDS", "SPIDER", "AVIF", "QOI", "ICO"])
def test_formats_other_than_the_datasets_are_not_decoded(alice_client, finished, fmt):
    buf = io.BytesIO()
    Image.fromarray(class_image(0, 32)).save(buf, format=fmt)
    r = alice_client.post(_url(finished), {"image": SimpleUploadedFile("x.png", buf.getvalue())})
    assert r.status_code == 400
    assert r.json()["error"].startswith("x.png: not an image")


def test_a_png_whose_text_inflates_is_refused_cheaply(alice_client, finished):
    """80 zTXt chunks of 1 MB each (80 KB on the wire): Pillow would inflate 64 MB of text."""
    raw = bytearray(png_bytes(class_image(0, 16)))
    body = zlib.compress(b"a" * 10**6, 9)
    text = b"".join(_chunk(b"zTXt", b"k%d\0\0" % i + body) for i in range(80))
    raw[33:33] = text
    tracemalloc.start()
    r = alice_client.post(_url(finished), {"image": SimpleUploadedFile("t.png", bytes(raw))})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert r.status_code == 400 and r.json()["error"].startswith("t.png: unreadable image")
    assert peak < 8 * 2**20, peak


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# ----------------------------------------------------------------------------- the slots


def test_a_prediction_over_the_slots_gets_503_with_retry_after(alice_client, finished, settings):
    settings.PREDICT_CONCURRENCY, settings.PREDICT_WAIT_SECONDS = 1, 0
    with predict.slot():
        r = alice_client.post(_url(finished), {"image": _png()})
    assert r.status_code == 503 and r["Retry-After"] == "1"
    assert "busy" in r.json()["error"]
    assert alice_client.post(_url(finished), {"image": _png()}).status_code == 200


def _until(condition, what: str, timeout: float = 60.0) -> None:
    """Wait for `condition()` (another thread's progress), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_predictions_wait_for_a_slot_and_no_more_run_at_once(
    alice, finished, settings, monkeypatch
):
    """Eight at once with two slots: two decode and run, the others wait their turn (each
    waiting at most PREDICT_WAIT_SECONDS), and all eight are answered."""
    settings.PREDICT_CONCURRENCY, settings.PREDICT_WAIT_SECONDS = 2, 120
    active, seen, lock, go = [0], [0], threading.Lock(), threading.Event()
    real = predict.to_batch

    def counting(images, side):
        with lock:
            active[0] += 1
            seen[0] = max(seen[0], active[0])
        go.wait(120)  # the first two hold their slots until the others queue
        try:
            return real(images, side)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(predict, "to_batch", counting)
    results: list = []

    def one():
        try:
            results.append(predict.predict_uploads(alice, finished, [_png()]))
        except predict.PredictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    _until(lambda: predict.slots().waiting == 6 and active[0] == 2, "two running and six waiting")
    go.set()
    for t in threads:
        t.join(120)
    assert seen[0] == 2
    assert len(results) == 8 and all(isinstance(r, dict) for r in results), results


def test_a_full_queue_answers_503_at_once(alice_client, alice, finished, settings):
    settings.PREDICT_CONCURRENCY, settings.PREDICT_WAIT_SECONDS = 1, 120
    waiting = predict.WAITING_PER_SLOT
    results: list = []
    with predict.slot():
        threads = [
            threading.Thread(
                target=lambda: results.append(predict.predict_uploads(alice, finished, [_png()]))
            )
            for _ in range(waiting)
        ]
        for t in threads:
            t.start()
        _until(lambda: predict.slots().waiting == waiting, "the queue to fill")
        r = alice_client.post(_url(finished), {"image": _png()})
        assert r.status_code == 503 and r["Retry-After"] == "120"
    for t in threads:
        t.join(120)
    assert len(results) == waiting
