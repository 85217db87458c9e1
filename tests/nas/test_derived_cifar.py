"""CIFAR-10 derived datasets, read from a tiny archive in the official python format."""

import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from searchapp.nas.data import DataError
from searchapp.nas.derived import CIFAR10_CLASSES, derive_cifar10, read_cifar10
from tests.nas.derived_archives import cifar_members, py2_pickle, write_tar


def test_it_derives_cifar_classes_in_the_given_order(cifar_tar):
    data = derive_cifar10(cifar_tar, ["bird", "auto"])
    assert data.classes == ["bird", "automobile"]
    # 5 batches x 20 images, labels cycle over 10 classes: 10 train and 2 test per class
    assert data.counts() == {
        "bird": {"train": 10, "test": 2},
        "automobile": {"train": 10, "test": 2},
    }
    assert data.x_train.shape == (20, 32, 32, 3) and data.x_train.dtype == np.uint8
    red = data.x_train[:, 5, 5, 0]
    assert set(red[data.y_train == 0]) == {40} and set(red[data.y_train == 1]) == {20}
    assert (data.x_train[:, 0, 1, 0] == 255).all()  # rows are red, green, blue planes, row-major
    assert set(data.x_train[:, 5, 5, 1]) == {1, 2, 3, 4, 5}
    assert set(data.x_test[:, 5, 5, 1]) == {9}


def test_it_reads_the_extracted_folder_and_its_parent(tmp_path, cifar_tar):
    with tarfile.open(cifar_tar) as tf:  # extracted by hand: extractall's filter is 3.11.4+
        for m in tf.getmembers():
            (tmp_path / "x" / m.name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "x" / m.name).write_bytes(tf.extractfile(m).read())
    a = derive_cifar10(tmp_path / "x" / "cifar-10-batches-py", ["cat", "dog"])
    b = derive_cifar10(tmp_path / "x", ["cat", "dog"])
    c = derive_cifar10(cifar_tar, ["cat", "dog"])
    assert np.array_equal(a.x_train, c.x_train) and np.array_equal(b.y_test, c.y_test)


def test_it_shares_one_read_of_the_archive(cifar_tar):
    whole = read_cifar10(cifar_tar)
    assert whole.classes == list(CIFAR10_CLASSES) and len(whole.y_train) == 100
    assert len(derive_cifar10(whole, list(CIFAR10_CLASSES)).y_test) == 20


@pytest.mark.parametrize(
    "classes, message",
    [
        (["airplane", "cats"], "unknown CIFAR-10 class 'cats'; close matches: cat"),
        (["airplane"], "need at least two classes, got 1"),
        (["auto", "automobile"], "class 'automobile' is listed twice"),
        (["airplane", " "], "empty class name"),
    ],
)
def test_it_rejects_bad_cifar_class_lists(cifar_tar, classes, message):
    with pytest.raises(DataError, match=message):
        derive_cifar10(cifar_tar, classes)


def test_it_rejects_a_truncated_cifar_archive(tmp_path, cifar_tar):
    raw = cifar_tar.read_bytes()
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        derive_cifar10(bad, ["cat", "dog"])


def test_it_rejects_a_file_that_is_not_a_tar(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"this is not an archive at all" * 10)
    with pytest.raises(DataError, match="not a readable .tar.gz"):
        derive_cifar10(bad, ["cat", "dog"])


def test_it_rejects_a_tar_that_is_not_cifar(tmp_path):
    wrong = write_tar(tmp_path / "w.tar.gz", {"data_batch_1": b"x"}, top="something-else")
    with pytest.raises(DataError, match="not the CIFAR-10 python archive"):
        derive_cifar10(wrong, ["cat", "dog"])
    binary = write_tar(
        tmp_path / "b.tar.gz", {"data_batch_1.bin": b"x"}, top="cifar-10-batches-bin"
    )
    with pytest.raises(DataError, match="binary version"):
        derive_cifar10(binary, ["cat", "dog"])


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_it_refuses_a_hostile_pickle_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    members = cifar_members()
    members["data_batch_3"] = pickle.dumps({b"data": _Evil(marker)}, protocol=2)
    tar = write_tar(tmp_path / "evil.tar.gz", members)
    with pytest.raises(DataError, match="refused global"):
        derive_cifar10(tar, ["cat", "dog"])
    assert not marker.exists()


def test_it_rejects_a_pickle_that_is_not_a_batch(tmp_path):
    members = cifar_members()
    members["test_batch"] = py2_pickle({"data": np.zeros((4, 10), np.uint8), "labels": [0] * 4})
    with pytest.raises(DataError, match="expected 3072"):
        derive_cifar10(write_tar(tmp_path / "c.tar.gz", members), ["cat", "dog"])


@pytest.mark.parametrize("classes", ["cat", "cat,,dog", "cat,cat", "cat,unicorn"])
def test_class_list_errors_name_the_classes_field(tmp_path, classes):
    archive = write_tar(tmp_path / "cifar-10-python.tar.gz", cifar_members())
    with pytest.raises(DataError) as caught:
        derive_cifar10(archive, classes)
    assert caught.value.field == "classes"
