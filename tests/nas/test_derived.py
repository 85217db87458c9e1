"""Derived datasets: tiny archives in exactly the official CIFAR-10 and Tiny-ImageNet formats."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from searchapp.nas import derived
from searchapp.nas.data import DataError, load_npz
from searchapp.nas.derived import (
    CIFAR10_CLASSES,
    SUITE,
    TINY_DOGS,
    TINY_VEHICLES,
    derive_cifar10,
    derive_tinyimagenet,
    download,
    expected_split,
    read_cifar10,
    suite_plan,
    tinyimagenet_classes,
)

# ----------------------------------------------------------------------------- CIFAR-10 archive

_RECONSTRUCT = np.ndarray((0,), np.uint8).__reduce__()[0]


class _Py2Pickler(pickle._Pickler):
    """Writes pickles as Python 2's cPickle did for CIFAR-10: str as STRING, numpy.core names."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = _save_str
    dispatch[str] = _save_str

    def save_global(self, obj, name=None):
        if obj is _RECONSTRUCT:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch(n: int, batch_no: int, rng: np.random.Generator) -> dict:
    """n images; labels cycle 0..9; red = 20 * label, green = batch number, pixel (0, 1) red = 255."""
    labels = [i % 10 for i in range(n)]
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    for i, y in enumerate(labels):
        data[i, :1024] = 20 * y
        data[i, 1024:2048] = batch_no
        data[i, 1] = 255  # red plane, row 0, column 1
    return {
        "batch_label": f"batch {batch_no}",
        "labels": labels,
        "data": data,
        "filenames": [f"img_{batch_no}_{i}.png" for i in range(n)],
    }


def cifar_members(per_batch: int = 20, test: int = 20, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    members = {f"data_batch_{b}": py2_pickle(cifar_batch(per_batch, b, rng)) for b in range(1, 6)}
    members["test_batch"] = py2_pickle(cifar_batch(test, 9, rng))
    members["batches.meta"] = py2_pickle(
        {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}
    )
    return members


def write_tar(path: Path, members: dict[str, bytes], top: str = "cifar-10-batches-py") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, raw in {"readme.html": b"<html></html>", **members}.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def cifar_tar(tmp_path) -> Path:
    return write_tar(tmp_path / "cifar-10-python.tar.gz", cifar_members())


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


def test_a_missing_source_names_the_file_and_where_to_get_it(tmp_path):
    with pytest.raises(DataError) as exc:
        derive_cifar10(tmp_path / "nope.tar.gz", ["cat", "dog"])
    msg = str(exc.value)
    assert "cifar-10-python.tar.gz" in msg and derived.CIFAR10_URL in msg and "\n" not in msg
    with pytest.raises(DataError, match="tiny-imagenet-200.zip"):
        derive_tinyimagenet(tmp_path / "nope.zip", ["a", "b"])


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


# ----------------------------------------------------------------------------- Tiny-ImageNet archive

WORDS = {
    "n04540053": "volleyball",
    "n02802426": "basketball",
    "n03983396": "pop bottle, soda bottle",
    "n02823428": "beer bottle",
    "n02814533": "beach wagon, station wagon, wagon, estate car, beach waggon, station waggon, waggon",
    "n03977966": "police van, police wagon, paddy wagon, patrol wagon, wagon, black Maria",
}
NOT_IN_TINY = {"n00000042": "volleyball game", "n00000043": "basketball"}  # words.txt has ~82k


def jpeg(colour: tuple[int, int, int], gray: bool = False) -> bytes:
    im = Image.new("RGB", (64, 64), colour)
    if gray:
        im = im.convert("L")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def colour_of(i: int) -> tuple[int, int, int]:
    return (30 * (i + 1) % 256, 200, 10)


def tiny_files(words: dict[str, str] = WORDS, n_train: int = 5, n_val: int = 2) -> dict[str, bytes]:
    """The official layout: wnids.txt, words.txt, train/<wnid>/images/*.JPEG + boxes, val, test."""
    files = {
        "wnids.txt": "".join(f"{w}\n" for w in words).encode(),
        "words.txt": "".join(f"{w}\t{t}\n" for w, t in {**NOT_IN_TINY, **words}.items()).encode(),
    }
    ann, k = [], 0
    for i, wnid in enumerate(words):
        boxes = []
        for j in range(n_train):
            name = f"{wnid}_{j}.JPEG"
            files[f"train/{wnid}/images/{name}"] = jpeg(colour_of(i), gray=(j == 0))
            boxes.append(f"{name}\t0\t0\t63\t63\n")
        files[f"train/{wnid}/{wnid}_boxes.txt"] = "".join(boxes).encode()
        for _ in range(n_val):
            files[f"val/images/val_{k}.JPEG"] = jpeg(colour_of(i))
            ann.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t63\t63\n")
            k += 1
    files["val/val_annotations.txt"] = "".join(ann).encode()
    files["test/images/test_0.JPEG"] = jpeg((1, 2, 3))
    return files


def write_zip(path: Path, files: dict[str, bytes], top: str = "tiny-imagenet-200") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in files.items():
            zf.writestr(f"{top}/{name}", raw)
    return path


@pytest.fixture
def tiny_zip(tmp_path) -> Path:
    return write_zip(tmp_path / "tiny-imagenet-200.zip", tiny_files())


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


# ----------------------------------------------------------------------------- download


def test_download_verifies_the_checksum_and_renames_into_place(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 2**20 + 5))
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    seen = []
    out = download(src.as_uri(), tmp_path / "dl" / "a.bin", md5, lambda d, t: seen.append((d, t)))
    assert out.read_bytes() == src.read_bytes()
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    assert download(src.as_uri(), tmp_path / "b.bin", f"sha256:{sha}").exists()


def test_download_refuses_a_bad_checksum_and_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    dest = tmp_path / "dl" / "a.bin"
    with pytest.raises(DataError, match="checksum mismatch"):
        download(src.as_uri(), dest, "0" * 32)
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(DataError, match="could not download"):
        download((tmp_path / "absent").as_uri(), dest, "0" * 32)
    assert list(dest.parent.iterdir()) == []


def test_fetch_uses_a_present_archive_or_downloads_it(tmp_path, cifar_tar, monkeypatch):
    assert derived.fetch("cifar10", cifar_tar.parent) == cifar_tar
    md5 = hashlib.md5(cifar_tar.read_bytes()).hexdigest()
    monkeypatch.setitem(derived.SOURCES["cifar10"], "url", cifar_tar.as_uri())
    monkeypatch.setitem(derived.SOURCES["cifar10"], "md5", md5)
    got = derived.fetch("cifar10", tmp_path / "data")
    assert got == tmp_path / "data" / "cifar-10-python.tar.gz"
    assert len(derive_cifar10(got, ["cat", "dog"]).y_train) == 20
    monkeypatch.setitem(derived.SOURCES["cifar10"], "md5", "f" * 32)
    with pytest.raises(DataError, match="checksum mismatch.*get it from file://"):
        derived.fetch("cifar10", tmp_path / "other")


# ----------------------------------------------------------------------------- the suite


def test_the_suite_is_table_3():
    assert len(SUITE) == 31 and len({e["name"] for e in SUITE}) == 31
    cifar = [e for e in SUITE if e["source"] == "cifar10"]
    tiny = [e for e in SUITE if e["source"] == "tinyimagenet"]
    assert len(cifar) == 21 and len(tiny) == 10
    assert sorted(len(e["classes"]) for e in cifar) == [2] * 10 + [3] * 5 + [4] * 3 + [5] * 2 + [10]
    assert all(set(e["classes"]) <= set(CIFAR10_CLASSES) for e in cifar)
    assert ["dog", "frog"] in [e["classes"] for e in cifar]  # the paper's "log, frog"
    assert all(w.startswith("n") and len(w) == 9 for e in tiny for w in e["classes"])
    assert len(TINY_DOGS) == 6 and len(set(TINY_VEHICLES)) == 15
    sizes = {e["name"]: expected_split(e) for e in SUITE}
    assert sizes["airplane, auto"] == (10_000, 2_000)
    assert sizes["airplane, auto, bird, cat, deer"] == (25_000, 5_000)
    assert sizes["volleyball, basketball"] == (1_000, 100)
    assert sizes["Tiny-ImageNet dogs"] == (3_000, 300)
    assert sizes["Tiny-ImageNet vehicles"] == (7_500, 750)
    for e in SUITE:  # Table 6's gain is ours minus the better baseline
        p = e["paper"]
        assert abs(p["ours"] - max(p["enet"], p["mnet"]) - p["gain"]) < 0.011, e["name"]


def test_the_suite_plan_derives_every_dataset(tmp_path, cifar_tar):
    wnids = sorted({w for e in SUITE if e["source"] == "tinyimagenet" for w in e["classes"]})
    words = {w: WORDS.get(w, f"class {w}") for w in wnids}
    tiny = write_zip(tmp_path / "t.zip", tiny_files(words, n_train=1, n_val=1))
    plan = list(suite_plan(cifar_tar, tiny))
    assert [e["name"] for e, _ in plan] == [e["name"] for e in SUITE]
    for entry, derive in plan:
        data = derive()
        assert data.num_classes == len(entry["classes"])
    assert len(list(suite_plan(cifar_tar, None))) == 21


# ----------------------------------------------------------------------------- command line


def test_the_cli_writes_an_npz(tmp_path, cifar_tar, capsys):
    out = tmp_path / "o" / "pair.npz"
    rc = derived.main(
        ["cifar10", "--classes", "airplane,auto", "--source", str(cifar_tar), "--out", str(out)]
    )
    assert rc == 0
    data = load_npz(out)
    assert data.classes == ["airplane", "automobile"] and len(data.y_train) == 20
    assert '"train": 20' in capsys.readouterr().out


def test_the_cli_gives_one_line_and_status_2_on_bad_input(tmp_path, cifar_tar, capsys):
    rc = derived.main(
        ["cifar10", "--classes", "airplane,plane", "--source", str(cifar_tar), "--out", "x.npz"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: unknown CIFAR-10 class 'plane'")
    assert err.count("\n") == 1
