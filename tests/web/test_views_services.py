"""The services under the pages hand back data (paths, bytes, domain errors), never HTTP;
the pages turn them into responses."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from searchapp import searches
from searchapp.storage import mistake_image_path, search_dir, thumbnail_path, write_mistake_images
from searchapp.views.searches import MISTAKES_ON_SEARCH_PAGE, final_context


def test_another_users_search_is_not_found(bob, search):
    with pytest.raises(searches.NotFound):
        searches.owned_search(bob, search.pk)
    assert searches.owned_search(search.owner, search.pk) == search


def test_a_missing_artifact_is_not_found_and_a_present_one_is_a_path(search):
    with pytest.raises(searches.NotFound):
        searches.weights_download(search, "pt")
    with pytest.raises(searches.NotFound):
        searches.weights_download(search, "no-such-kind")
    folder = search_dir(search.pk)
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"weights")
    search.outputs = {"pt": f"searches/{search.pk}/model.pt"}
    download = searches.weights_download(search, "pt")
    assert download.path.read_bytes() == b"weights"
    assert str(search.pk) in download.filename and download.content_type


def test_a_mistake_image_is_a_png_file_and_a_missing_one_none(search):
    x_test = np.zeros((3, 8, 8, 3), np.uint8)
    assert write_mistake_images(search.pk, x_test, [2, 0, 2, 3, -1]) == 2  # 3, -1: no such image
    assert Image.open(mistake_image_path(search.pk, 2)).format == "PNG"
    assert mistake_image_path(search.pk, 1) is None
    assert mistake_image_path(search.pk, 3) is None


def test_a_thumbnail_is_a_path_or_none(dataset):
    assert thumbnail_path(dataset, "0_0").is_file()
    assert thumbnail_path(dataset, "999_0") is None


def test_the_search_page_previews_a_fixed_number_of_mistakes():
    wrong = [{"index": i, "true": "a", "pred": "b", "confidence": 0.5} for i in range(30)]
    final = final_context({"test_acc": 50.0, "misclassified": wrong})
    assert len(final["mistakes"]) == 30
    assert final["mistakes_preview"] == wrong[:MISTAKES_ON_SEARCH_PAGE]
