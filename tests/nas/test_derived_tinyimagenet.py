"""Tiny-ImageNet derived datasets, read from a tiny archive in the official layout."""

import zipfile

import numpy as np
import pytest

from searchapp.nas.data import DataError
from searchapp.nas.derived import derive_tinyimagenet, tinyimagenet_classes
from tests.nas.derived_archives import WORDS, jpeg, tiny_files, write_zip


def test_it_derives_tiny_imagenet_classes_by_wnid_or_word(tiny_zip):
    data = derive_tinyimagenet(tiny_zip, ["Soda Bottle", "n02823428"])
    assert data.classes == ["pop bottle", "beer bottle"]
    assert data.counts() == {
        "pop bottle": {"train": 5, "test": 2},
        "beer bottle": {"train": 5, "test": 2},
    }
    assert data.x_train.shape == (10, 64, 64, 3) and data.image_size == 64
    # colour survives JPEG: class 0 is wnid index 2 (red 90), class 1 is index 3 (red 120)
    red = data.x_test[:, 32, 32, 0].astype(int)
    assert abs(red[data.y_test == 0] - 90).max() < 6 and abs(red[data.y_test == 1] - 120).max() < 6
    gray = data.x_train[0]  # first image of a class is a grayscale JPEG
    assert np.array_equal(gray[..., 0], gray[..., 1])
    assert "n03983396,n02823428" in data.source


def test_it_reads_the_tiny_imagenet_folder(tmp_path, tiny_zip):
    with zipfile.ZipFile(tiny_zip) as zf:
        zf.extractall(tmp_path / "x")
    a = derive_tinyimagenet(tmp_path / "x", ["volleyball", "basketball"])
    b = derive_tinyimagenet(tiny_zip, ["VOLLEYBALL", "basketball"])
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert [c.wnid for c in tinyimagenet_classes(tmp_path / "x")] == list(WORDS)


@pytest.mark.parametrize(
    "classes, message",
    [
        (
            ["volley", "basketball"],
            r"unknown Tiny-ImageNet class 'volley'; close matches: volleyball",
        ),
        (["wagon", "basketball"], r"'wagon' is ambiguous: n02814533 \(beach wagon\), n03977966"),
        (["volleyball game", "basketball"], "unknown Tiny-ImageNet class 'volleyball game'"),
        (["soda bottle", "n03983396"], "listed twice"),
        (["volleyball"], "need at least two classes"),
    ],
)
def test_it_rejects_bad_tiny_class_lists(tiny_zip, classes, message):
    with pytest.raises(DataError, match=message):
        derive_tinyimagenet(tiny_zip, classes)


def test_it_rejects_a_truncated_tiny_zip(tmp_path, tiny_zip):
    raw = tiny_zip.read_bytes()
    bad = tmp_path / "cut.zip"
    bad.write_bytes(raw[: len(raw) - 300])
    with pytest.raises(DataError, match="truncated"):
        derive_tinyimagenet(bad, ["volleyball", "basketball"])


def test_it_rejects_a_zip_that_is_not_tiny_imagenet(tmp_path):
    wrong = write_zip(tmp_path / "w.zip", {"cat/1.png": b"x"}, top="mydata")
    with pytest.raises(DataError, match="not the Tiny-ImageNet archive"):
        derive_tinyimagenet(wrong, ["volleyball", "basketball"])
    files = tiny_files()
    del files["val/val_annotations.txt"]
    with pytest.raises(DataError, match="no val/val_annotations.txt"):
        derive_tinyimagenet(write_zip(tmp_path / "v.zip", files), ["volleyball", "basketball"])


def test_it_refuses_listed_names_that_leave_the_folder(tmp_path):
    files = tiny_files()
    files["val/val_annotations.txt"] += b"../../outside.JPEG\tn04540053\t0\t0\t63\t63\n"
    (tmp_path / "outside.JPEG").write_bytes(jpeg((0, 0, 0)))
    root = tmp_path / "a" / "tiny-imagenet-200"
    for name, raw in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(raw)
    with pytest.raises(DataError, match="unsafe file name 'val/images/../../outside.JPEG'"):
        derive_tinyimagenet(tmp_path / "a", ["volleyball", "basketball"])
