"""Dataset readers: image folders, zips and .npz, with clear errors for bad input."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from searchapp.nas.data import DataError, ImageData, load_dataset, load_npz, stratified_split
from searchapp.nas.limits import Limits
from tests.builders import make_data, solid_bmp_zip, write_folder


def test_it_reads_a_folder_with_train_and_test(tmp_path):
    data = make_data(n_train=6, n_test=3)
    got = load_dataset(write_folder(tmp_path / "d", data))
    assert got.classes == ["cat", "dog"]
    assert got.x_train.shape == (12, 16, 16, 3) and got.x_test.shape == (6, 16, 16, 3)
    assert got.x_train.dtype == np.uint8
    assert got.counts() == {"cat": {"train": 6, "test": 3}, "dog": {"train": 6, "test": 3}}


def test_it_splits_a_folder_without_test_per_class_and_seeded(tmp_path):
    data = make_data(n_train=10)
    root = write_folder(tmp_path / "d", data, split=False)
    a = load_dataset(root, seed=1)
    b = load_dataset(root, seed=1)
    assert (a.counts()["cat"]["test"], a.counts()["dog"]["test"]) == (2, 2)
    assert (a.x_test == b.x_test).all()
    c = load_dataset(root, seed=2)
    assert not (a.x_test == c.x_test).all()


def test_it_reads_a_zip_with_a_wrapping_folder(tmp_path):
    root = write_folder(tmp_path / "mydata", make_data(n_train=4, n_test=2))
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in root.rglob("*.png"):
            z.write(p, p.relative_to(tmp_path).as_posix())
    got = load_dataset(zpath)
    assert got.summary()["train"] == 8 and got.summary()["test"] == 4


def test_it_reads_an_npz_and_writes_one(tmp_path):
    data = make_data(n_train=4, n_test=2)
    data.save_npz(tmp_path / "d.npz")
    got = load_npz(tmp_path / "d.npz")
    assert got.classes == data.classes and (got.x_train == data.x_train).all()
    assert load_dataset(tmp_path / "d.npz").num_classes == 2


def test_it_converts_grayscale_rgba_and_16_bit_images(tmp_path):
    for cls, mode in (("a", "L"), ("b", "RGBA"), ("c", "I;16")):
        folder = tmp_path / "d" / cls
        folder.mkdir(parents=True)
        for i in range(3):
            Image.new(mode, (16, 16), 200 if mode != "RGBA" else (10, 20, 30, 128)).save(
                folder / f"{i}.png"
            )
    got = load_dataset(tmp_path / "d", test_fraction=0.34)
    assert got.x_train.shape[1:] == (16, 16, 3) and got.num_classes == 3


def test_it_resizes_odd_sized_images_to_the_common_size(tmp_path):
    root = write_folder(tmp_path / "d", make_data(n_train=4, n_test=2))
    Image.new("RGB", (40, 30)).save(root / "train" / "cat" / "big.png")
    assert load_dataset(root).x_train.shape[1:3] == (16, 16)


def _missing(root):
    pass


def _one_class(root):
    (root / "one").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (16, 16)).save(root / "one" / f"{i}.png")


def _not_a_jpeg(root):
    write_folder(root, make_data())
    (root / "train" / "cat" / "bad.jpg").write_bytes(b"this is not a jpeg")


def _truncated_png(root):
    write_folder(root, make_data())
    (root / "train" / "cat" / "trunc.png").write_bytes(_png_bytes()[:60])


@pytest.mark.parametrize(
    "make, message",
    [
        (_missing, "no such file"),
        (_one_class, "only one class"),
        (_not_a_jpeg, "bad.jpg"),
        (_truncated_png, "trunc.png"),
    ],
)
def test_strict_loading_fails_with_a_one_line_reason(tmp_path, make, message):
    root = tmp_path / "d"
    make(root)
    with pytest.raises(DataError, match=message) as exc:
        load_dataset(root, strict=True)
    assert "\n" not in str(exc.value)


def test_lenient_loading_collects_rejected_files_with_reasons(tmp_path):
    root = write_folder(tmp_path / "d", make_data(n_train=4, n_test=2))
    (root / "train" / "cat" / "bad.jpg").write_bytes(b"not an image")
    (root / "train" / "cat" / "notes.txt").write_text("hello")
    got = load_dataset(root, strict=False)
    reasons = dict(got.rejected)
    assert set(reasons) == {"train/cat/bad.jpg", "train/cat/notes.txt"}
    assert got.summary()["train"] == 8


def test_an_empty_class_is_refused(tmp_path):
    root = write_folder(tmp_path / "d", make_data(n_train=4, n_test=2))
    for p in (root / "train" / "dog").iterdir():
        p.write_bytes(b"garbage")
    with pytest.raises(DataError, match="dog"):
        load_dataset(root, strict=False)


def test_an_empty_class_folder_inside_a_zip_is_refused(tmp_path):
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for i in range(3):
            z.writestr(f"set/cat/{i}.png", _png_bytes())
            z.writestr(f"set/dog/{i}.png", _png_bytes())
        z.writestr("set/bird/", b"")
    with pytest.raises(DataError, match="bird"):
        load_dataset(zpath)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    root = write_folder(tmp_path / "d", make_data(n_train=4, n_test=2))
    Image.new("L", (6000, 6000)).save(root / "train" / "cat" / "bomb.png", optimize=True)
    got = load_dataset(root, strict=False)
    assert "pixels" in dict(got.rejected)["train/cat/bomb.png"]


@pytest.mark.parametrize("name", ["../evil.png", "/abs/evil.png"])
def test_unsafe_zip_entries_are_refused(tmp_path, name):
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("train/a/1.png", _png_bytes())
        z.writestr(name, _png_bytes())
    with pytest.raises(DataError, match="unsafe"):
        load_dataset(zpath)


def test_a_zip_bomb_is_refused(tmp_path):
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("train/a/1.png", b"\0" * 10_000_000)
    with pytest.raises(DataError, match="zip bomb"):
        load_dataset(zpath)


def test_small_entries_that_compress_well_are_not_a_zip_bomb(tmp_path):
    zpath = tmp_path / "d.zip"
    zpath.write_bytes(solid_bmp_zip())  # six 30 KB BMPs, each deflated about 350:1
    assert load_dataset(zpath).classes == ["blue", "red"]
    with pytest.raises(DataError, match=r"red/0.bmp.* 349:1, more than 200:1"):
        load_dataset(zpath, limits=Limits(ratio_min_bytes=30_000))


@pytest.mark.parametrize(
    "limits, message",
    [
        (Limits(max_entries=5), "the zip has 6 entries; at most 5 are allowed"),
        (Limits(max_unpacked_bytes=100_000), "unpacks to more than 97.7 KiB"),
    ],
)
def test_a_zip_over_the_given_limits_is_refused(tmp_path, limits, message):
    zpath = tmp_path / "d.zip"
    zpath.write_bytes(solid_bmp_zip())
    with pytest.raises(DataError, match=message):
        load_dataset(zpath, limits=limits)


def test_images_over_the_given_limits_are_rejected(tmp_path):
    root = write_folder(tmp_path / "d", make_data(n_train=4, n_test=2))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "train" / "cat" / "heavy.png")  # about 12 KB
    Image.new("RGB", (24, 24)).save(root / "train" / "cat" / "wide.png")  # tiny file, 576 px
    got = load_dataset(
        root, strict=False, limits=Limits(max_image_bytes=5000, max_image_pixels=400)
    )
    reasons = dict(got.rejected)
    assert reasons["train/cat/heavy.png"] == "file larger than 4.88 KiB"
    assert reasons["train/cat/wide.png"] == "24x24 pixels is more than allowed (400)"
    assert got.summary()["train"] == 8


def test_a_non_zip_file_is_refused(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"hello")
    with pytest.raises(DataError, match="not an image folder"):
        load_dataset(tmp_path / "x.bin")


def test_stratified_split_keeps_every_class_on_both_sides():
    x = np.zeros((7, 4, 4, 3), np.uint8)
    y = np.array([0, 0, 0, 0, 0, 1, 1])
    _, ytr, _, yte = stratified_split(x, y, 0.2, 0)
    assert sorted(set(ytr)) == sorted(set(yte)) == [0, 1]


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- bounded datasets


def _solid_folder(root, n_per_class: int, side: int, fmt: str = "PNG"):
    for c, colour in (("red", (200, 0, 0)), ("blue", (0, 0, 200))):
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            Image.new("RGB", (side, side), colour).save(root / c / f"{i}.{fmt.lower()}", fmt)
    return root


def test_images_larger_than_the_working_resolution_are_scaled_down_and_reported(tmp_path):
    root = _solid_folder(tmp_path / "d", 4, 600)  # over the engine's 512: scaled, not refused
    Image.new("RGB", (40, 20), (200, 0, 0)).save(root / "red" / "wide.png")
    got = load_dataset(root, limits=Limits(max_side=32))
    assert got.image_size == 32 and got.rejected == []
    assert got.x_train.shape[1:] == (32, 32, 3)
    assert (got.resized, got.resized_from) == (9, "600x600")
    assert got.summary()["resized"] == 9
    assert (got.x_train[got.y_train == got.classes.index("red")] == (200, 0, 0)).all()


def test_images_at_or_under_the_working_resolution_keep_their_size(tmp_path):
    got = load_dataset(_solid_folder(tmp_path / "d", 3, 24), limits=Limits(max_side=32))
    assert got.image_size == 24 and got.resized == 0 and got.resized_from == ""


def test_the_images_are_decoded_into_one_array(tmp_path):
    got = load_dataset(write_folder(tmp_path / "d", make_data(n_train=5, n_test=2)))
    assert got.x_train.base is not None and got.x_train.base is got.x_test.base


def test_a_dataset_over_the_pixel_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    import searchapp.nas.imagetree as imagetree

    def no_decoding(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(imagetree, "decode_image", no_decoding)
    root = _solid_folder(tmp_path / "d", 5, 64)
    with pytest.raises(DataError) as exc:
        load_dataset(root, limits=Limits(max_side=64, max_pixels=40_000))
    assert str(exc.value).endswith(
        "this dataset would decode to 0.04096 M pixels (10 images of 64x64), over the 0.04 M "
        "pixel budget; use a smaller working resolution or fewer images"
    )
    # the same images at a working resolution of 32 px fit (10 x 32 x 32 = 10,240 pixels)
    monkeypatch.undo()
    assert load_dataset(root, limits=Limits(max_side=32, max_pixels=40_000)).image_size == 32


@pytest.mark.parametrize("side", [7, 513, 0])
def test_a_working_resolution_outside_the_engine_limit_is_refused(side):
    with pytest.raises(ValueError, match="working resolution|positive"):
        Limits(max_side=side)


def test_a_file_whose_header_reads_but_whose_pixels_do_not_is_rejected_and_the_split_redone(
    tmp_path,
):
    data = make_data(n_train=10)
    clean = write_folder(tmp_path / "clean", data, split=False)
    dirty = write_folder(tmp_path / "dirty", data, split=False)
    png = (clean / "cat" / "train_0000.png").read_bytes()
    (dirty / "cat" / "zz_truncated.png").write_bytes(png[: len(png) // 2])  # sorts last
    a, b = load_dataset(clean, strict=False, seed=3), load_dataset(dirty, strict=False, seed=3)
    assert [p for p, _ in b.rejected] == ["cat/zz_truncated.png"]
    assert b.rejected[0][1].startswith("unreadable image")
    assert (a.x_train == b.x_train).all() and (a.x_test == b.x_test).all()
    assert (a.y_train == b.y_train).all() and (a.y_test == b.y_test).all()


def test_a_header_beyond_the_first_bytes_is_read_from_the_whole_file(tmp_path):
    root = _solid_folder(tmp_path / "d", 3, 16)
    path = root / "red" / "big_header.jpg"
    Image.new("RGB", (16, 16), (200, 0, 0)).save(path, "JPEG", icc_profile=b"\0" * 200_000)
    assert path.stat().st_size > 150_000  # the frame header comes after the profile
    got = load_dataset(root, strict=True, test_fraction=0.4)
    assert got.counts()["red"]["train"] + got.counts()["red"]["test"] == 4


def test_it_writes_compressed_npz_and_still_reads_uncompressed_ones(tmp_path):
    x = np.full((200, 32, 32, 3), 7, np.uint8)
    y = np.arange(200) % 2
    flat = ImageData(x[:150], y[:150], x[150:], y[150:], ["a", "b"])
    flat.save_npz(tmp_path / "new.npz")
    assert (tmp_path / "new.npz").stat().st_size < x.nbytes / 50
    np.savez(tmp_path / "old.npz", x_train=flat.x_train, y_train=flat.y_train,
             x_test=flat.x_test, y_test=flat.y_test)  # fmt: skip
    for name in ("new.npz", "old.npz"):
        back = load_npz(tmp_path / name)
        assert (back.x_train == flat.x_train).all() and back.x_test.shape == (50, 32, 32, 3)
