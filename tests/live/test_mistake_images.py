"""The images of the final model's mistakes: written once by the job that finishes the search,
served as files by the page, never by loading a dataset's test split in the web process."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from searchapp.nas.data import load_npz
from searchapp.storage import media_path, mistakes_dir
from searchapp.tasks import search as search_task


def _png(response) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(b"".join(response.streaming_content))).convert("RGB"))


@pytest.fixture
def finished(search):
    """A real (tiny) search run by its job, with its final training."""
    assert search_task.run_search_job(search.pk)["status"] == "finished"
    search.refresh_from_db()
    assert search.final.get("misclassified"), search.final  # 1 epoch: it makes mistakes
    return search


def test_the_job_writes_one_png_per_mistake_and_the_page_serves_them(
    finished, alice_client, monkeypatch
):
    wrong = [m["index"] for m in finished.final["misclassified"]]
    assert sorted(p.name for p in mistakes_dir(finished.pk).iterdir()) == sorted(
        f"{i}.png" for i in wrong
    )
    x_test = load_npz(media_path(finished.dataset.npz_path)).x_test

    def no_split(*args, **kwargs):
        raise AssertionError("the web process loaded a dataset's arrays")

    monkeypatch.setattr(np, "load", no_split)
    html = alice_client.get(f"/searches/{finished.pk}/mistakes/").content.decode()
    assert html.count("<li><img") == len(wrong) and 'id="no-mistake-images"' not in html
    r = alice_client.get(f"/searches/{finished.pk}/test-images/{wrong[0]}.png")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    im = _png(r)
    step = im.shape[0] // x_test.shape[1]
    assert np.array_equal(im[::step, ::step], x_test[wrong[0]])
    right = next(i for i in range(len(x_test)) if i not in wrong)
    r = alice_client.get(f"/searches/{finished.pk}/test-images/{right}.png")
    assert r.status_code == 404
    monkeypatch.undo()
    _without_saved_images(finished, alice_client)  # one search job serves both checks


def _without_saved_images(search, client) -> None:
    """Searches finished without the images: a note, no images, 404s; the command writes them."""
    folder = mistakes_dir(search.pk)
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    first = search.final["misclassified"][0]["index"]
    html = client.get(f"/searches/{search.pk}/").content.decode()
    assert 'id="no-mistake-images"' in html and "<li><img" not in html
    r = client.get(f"/searches/{search.pk}/test-images/{first}.png")
    assert r.status_code == 404

    out = io.StringIO()
    call_command("write_mistake_images", stdout=out)
    n = len(search.final["misclassified"])
    assert out.getvalue().strip() == f"search {search.pk}: {n} images"
    assert client.get(f"/searches/{search.pk}/test-images/{first}.png").status_code == 200
    html = client.get(f"/searches/{search.pk}/").content.decode()
    assert 'id="no-mistake-images"' not in html and "<li><img" in html
