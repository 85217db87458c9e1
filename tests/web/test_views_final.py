"""The final model's results on the search page: intervals, per class, confusion matrix,
mistakes (the images the search's job saved); old searches without them still render."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from searchapp.models import Candidate
from searchapp.nas.data import load_npz
from searchapp.storage import media_path, write_mistake_images

ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
FINAL = {
    "test_acc": 75.0,
    "test_ci95": [40.93, 92.85],
    "epochs": 15,
    "recipe": "fast",
    "classes": ["cat", "dog"],
    "per_class": {"cat": 100.0, "dog": 50.0},
    "per_class_val": {"cat": 80.0, "dog": 60.0},
    "confusion_matrix": [[4, 0], [2, 2]],
    "misclassified": [
        {"index": 5, "true": "dog", "pred": "cat", "confidence": 0.93},
        {"index": 7, "true": "dog", "pred": "cat", "confidence": 0.61},
    ],
    "misclassified_total": 2,
}


@pytest.fixture
def finished(search):
    c = Candidate.objects.create(
        search=search, index=0, phase="depth", arch=ARCH, params=1234, test_acc=62.5,
        status="ok", accepted=True,
        record={"val_acc": 70.0, "val_ci95": [50.1, 84.6], "test_ci95": [30.57, 86.32]},
    )  # fmt: skip
    search.best = c
    search.status = "finished"
    search.settings = {**search.settings, "select_on": "validation"}
    search.final = FINAL
    search.save()
    data = load_npz(media_path(search.dataset.npz_path))  # as the search's job writes them
    write_mistake_images(search.pk, data.x_test, [m["index"] for m in FINAL["misclassified"]])
    return search


def test_the_page_shows_the_final_results(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert 'id="per-class-table"' in html and 'id="confusion-matrix"' in html
    assert "75.00% (95% CI 40.9–92.8)" in html  # the final model, with its interval
    assert "validation split" in html
    assert html.count('class="diag"') == 2
    assert f"/searches/{finished.pk}/test-images/5.png" in html
    assert "93% sure" in html
    assert '<small id="mistakes-count">2 misclassified test images;' in html


def test_an_old_search_without_final_results_still_renders(alice_client, search):
    search.status = "finished"
    search.final = {}
    search.save()
    r = alice_client.get(f"/searches/{search.pk}/")
    assert r.status_code == 200
    assert 'id="per-class-table"' not in r.content.decode()
    r = alice_client.get(f"/searches/{search.pk}/mistakes/")
    assert r.status_code == 200 and 'id="no-final"' in r.content.decode()


def test_the_mistakes_page_lists_every_mistake(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/mistakes/").content.decode()
    assert html.count("<li><img") == 2


def test_a_test_image_is_the_datasets_own(alice_client, finished):
    data = load_npz(media_path(finished.dataset.npz_path))
    r = alice_client.get(f"/searches/{finished.pk}/test-images/5.png")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    im = np.array(Image.open(io.BytesIO(b"".join(r.streaming_content))).convert("RGB"))
    small = im[:: im.shape[0] // data.x_test.shape[1], :: im.shape[1] // data.x_test.shape[2]]
    assert np.array_equal(small, data.x_test[5])


def test_a_test_image_out_of_range_is_404(alice_client, finished):
    assert alice_client.get(f"/searches/{finished.pk}/test-images/9999.png").status_code == 404


def test_another_users_test_image_is_404(bob_client, finished):
    assert bob_client.get(f"/searches/{finished.pk}/test-images/5.png").status_code == 404
    assert bob_client.get(f"/searches/{finished.pk}/mistakes/").status_code == 404


def test_a_finished_search_has_no_progress_line(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert '<div id="epoch-progress" class="progress-box" hidden style="display: none">' in html
    assert '<span id="epoch-text" role="status"></span>' in html


def test_candidates_show_their_intervals(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert "(95% CI 30.6–86.3)" in html  # test
    assert "(95% CI 50.1–84.6)" in html  # validation
