import numpy as np
import pytest

from searchapp.models import Dataset
from searchapp.nas.data import load_npz
from searchapp.storage import (
    create_dataset_from_imagedata,
    dataset_dir,
    safe_relative_path,
    thumbnails,
)
from tests.builders import make_imagedata


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("pets/cat/1.png", "pets/cat/1.png"),
        ("./pets//cat/1.png", "pets/cat/1.png"),
        ("pets\\cat\\1.png", "pets/cat/1.png"),
    ],
)
def test_it_cleans_relative_paths(raw, clean):
    assert safe_relative_path(raw) == clean


@pytest.mark.parametrize(
    "raw", ["", "/etc/passwd", "../x.png", "a/../../x.png", "C:/x.png", "a\x00b"]
)
def test_it_refuses_unsafe_paths(raw):
    with pytest.raises(ValueError):
        safe_relative_path(raw)


def test_it_packs_a_dataset_with_thumbnails(alice):
    data = make_imagedata(per_class=12)
    ds = create_dataset_from_imagedata(alice, "pets", data, source="generated")
    assert ds.classes == ["cat", "dog"]
    assert ds.image_size == 16
    assert ds.num_train + ds.num_test == 24
    assert ds.counts["cat"] == {"train": 9, "test": 3}
    back = load_npz(dataset_dir(ds.pk) / "data.npz")
    assert np.array_equal(back.x_train, data.x_train)
    rows = thumbnails(ds)
    assert [r["name"] for r in rows] == ["cat", "dog"]
    assert len(rows[0]["thumbs"]) == 8


def test_it_leaves_nothing_behind_when_packing_fails(alice, monkeypatch, settings):
    data = make_imagedata()

    def broken(path):
        raise OSError("disk full")

    monkeypatch.setattr(data, "save_npz", broken)
    with pytest.raises(OSError):
        create_dataset_from_imagedata(alice, "pets", data, source="generated")
    assert Dataset.objects.count() == 0
    datasets = settings.MEDIA_ROOT / "datasets"
    assert not datasets.exists() or not any(datasets.iterdir())
