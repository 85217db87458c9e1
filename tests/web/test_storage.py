import numpy as np
import pytest

from searchapp.models import Dataset
from searchapp.nas.data import load_npz
from searchapp.storage import (
    QuotaError,
    check_storage_quota,
    create_dataset_from_imagedata,
    dataset_dir,
    folder_bytes,
    safe_relative_path,
    thumbnails,
    used_bytes,
)
from tests.builders import finish_with_weights, make_imagedata


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
    "raw",
    ["", "/etc/passwd", "../x.png", "a/../../x.png", "C:/x.png", "a\x00b",
     "cat/" + "猫" * 200 + ".png",  # 200 characters, 604 bytes: too long for a file name
     "cat/\ud800.png"],  # a lone surrogate (JSON allows it): no file can be named so
)  # fmt: skip
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


def test_used_bytes_counts_the_users_dataset_files_on_disk(alice, bob):
    assert used_bytes(alice) == 0
    mine = create_dataset_from_imagedata(alice, "a", make_imagedata(), source="generated")
    create_dataset_from_imagedata(bob, "b", make_imagedata(per_class=30), source="generated")
    size = folder_bytes(dataset_dir(mine.pk))
    assert size > (dataset_dir(mine.pk) / "data.npz").stat().st_size > 0
    assert used_bytes(alice) == size


def test_a_dataset_past_the_storage_quota_is_refused_and_leaves_nothing(alice, settings):
    first = create_dataset_from_imagedata(alice, "a", make_imagedata(), source="generated")
    used = used_bytes(alice)
    settings.USER_STORAGE_QUOTA_BYTES = used + 1000  # room for less than one more
    with pytest.raises(QuotaError) as exc:
        create_dataset_from_imagedata(alice, "b", make_imagedata(), source="generated")
    message = str(exc.value)
    assert "over your storage quota of" in message and "delete a dataset first" in message
    assert list(Dataset.objects.all()) == [first]
    assert sorted(p.name for p in (settings.MEDIA_ROOT / "datasets").iterdir()) == [str(first.pk)]
    check_storage_quota(alice)  # under the quota: nothing to refuse before the next upload
    settings.USER_STORAGE_QUOTA_BYTES = used
    with pytest.raises(QuotaError, match="already use .* of your storage quota"):
        check_storage_quota(alice)


@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_weights_are_served_as_bytes(alice_client, search, fmt):
    finish_with_weights(search, {fmt: b"weights"})
    r = alice_client.get(f"/api/searches/{search.pk}/weights/{fmt}/")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/octet-stream"
    assert r["Content-Disposition"] == f'attachment; filename="mininas-search{search.pk}.{fmt}"'
