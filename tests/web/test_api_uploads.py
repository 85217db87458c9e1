"""Folder uploads in batches (with relative paths) and zip uploads, through the JSON API: each
answers 202 with the dataset "packing", and its packing job (run here) makes it ready or failed."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from searchapp.models import Dataset, Upload
from searchapp.nas.files import human_bytes
from searchapp.storage import dataset_dir, upload_dir
from tests.builders import class_image, make_image_folder, make_zip, png_bytes
from tests.web.packing import accepted, failed, ready


def _files(folder, base):
    files, paths = [], []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            files.append(SimpleUploadedFile(p.name, p.read_bytes()))
            paths.append(p.relative_to(base).as_posix())
    return files, paths


def _start(client, name="pets"):
    r = client.post("/api/uploads/", {"name": name})
    assert r.status_code == 201, r.content
    return r.json()["upload"]


def _send(client, upload, files, paths):
    return client.post(
        f"/api/uploads/{upload}/files/", {"files": files, "paths": json.dumps(paths)}
    )


def test_it_uploads_a_folder_in_batches(alice_client, tmp_path):
    folder = make_image_folder(tmp_path / "pets", per_class=15)
    files, paths = _files(folder, tmp_path)
    upload = _start(alice_client)
    for i in range(0, len(files), 10):
        r = _send(alice_client, upload, files[i : i + 10], paths[i : i + 10])
        assert r.status_code == 200, r.content
    assert r.json()["files"] == 30
    r = alice_client.post(f"/api/uploads/{upload}/finish/", {"name": "my pets"})
    pk = accepted(r)
    assert not upload_dir(upload).exists() and Upload.objects.count() == 0  # handed over
    assert not (dataset_dir(pk) / "data.npz").exists()  # nothing decoded in the request
    assert ready(alice_client, r)["name"] == "my pets"
    ds = Dataset.objects.get()
    assert ds.name == "my pets"
    assert ds.classes == ["cat", "dog"]
    assert ds.num_train + ds.num_test == 30
    assert (dataset_dir(ds.pk) / "data.npz").is_file()
    assert sorted(p.name for p in dataset_dir(ds.pk).iterdir()) == ["data.npz", "thumbs"]


def test_it_reports_rejected_files_with_reasons(alice_client, tmp_path):
    extras = {"cat/broken.png": b"not an image at all", "dog/notes.txt": b"hello"}
    folder = make_image_folder(tmp_path / "pets", per_class=6, extras=extras)
    files, paths = _files(folder, tmp_path)
    upload = _start(alice_client)
    assert _send(alice_client, upload, files, paths).status_code == 200
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    rejected = ready(alice_client, r)["rejected"]
    rejected = dict((p.split("/", 1)[-1], reason) for p, reason in rejected)
    assert set(rejected) == {"cat/broken.png", "dog/notes.txt"}
    assert "not an image" in rejected["cat/broken.png"]
    assert Dataset.objects.get().num_train + Dataset.objects.get().num_test == 12


def test_it_refuses_unsafe_paths_per_file(alice_client):
    upload = _start(alice_client)
    raw = png_bytes(class_image(0))
    files = [SimpleUploadedFile("a.png", raw), SimpleUploadedFile("b.png", raw)]
    r = _send(alice_client, upload, files, ["../../etc/a.png", "pets/cat/b.png"])
    assert r.status_code == 200
    assert r.json()["stored"] == 1
    assert r.json()["refused"][0][0] == "../../etc/a.png"


def test_it_rejects_mismatched_paths(alice_client):
    upload = _start(alice_client)
    files = [SimpleUploadedFile("a.png", png_bytes(class_image(0)))]
    r = _send(alice_client, upload, files, ["x/a.png", "x/b.png"])
    assert r.status_code == 400
    assert "paths" in r.json()["error"]


def test_it_rejects_bad_paths_json(alice_client):
    upload = _start(alice_client)
    files = [SimpleUploadedFile("a.png", png_bytes(class_image(0)))]
    r = alice_client.post(f"/api/uploads/{upload}/files/", {"files": files, "paths": "{oops"})
    assert r.status_code == 400


def test_it_refuses_too_many_files_in_one_request(alice_client, settings):
    upload = _start(alice_client)
    n = settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1
    files = [SimpleUploadedFile(f"{i}.png", b"x") for i in range(n)]
    r = _send(alice_client, upload, files, [f"c/{i}.png" for i in range(n)])
    assert r.status_code == 400
    assert "error" in r.json()


def test_it_refuses_files_over_the_size_limit(alice_client, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 100
    upload = _start(alice_client)
    files = [SimpleUploadedFile("big.png", b"x" * 101)]
    r = _send(alice_client, upload, files, ["c/big.png"])
    assert r.status_code == 200
    assert r.json()["stored"] == 0
    assert r.json()["refused"] == [["c/big.png", "file larger than 100 bytes"]]


def test_it_refuses_requests_over_the_size_limit(alice_client, settings):
    settings.UPLOAD_MAX_REQUEST_BYTES = 1000
    upload = _start(alice_client)
    files = [SimpleUploadedFile("big.png", b"x" * 2000)]
    r = _send(alice_client, upload, files, ["c/big.png"])
    assert r.status_code == 413  # searchapp.limits: refused before the body is parsed
    assert "larger than" in r.json()["error"]


def test_it_refuses_uploads_over_the_file_count(alice_client, settings):
    settings.UPLOAD_MAX_FILES = 2
    upload = _start(alice_client)
    raw = png_bytes(class_image(0))
    files = [SimpleUploadedFile(f"{i}.png", raw) for i in range(3)]
    r = _send(alice_client, upload, files, [f"c/{i}.png" for i in range(3)])
    assert r.status_code == 400


def test_it_refuses_one_class_and_keeps_nothing(alice_client, tmp_path):
    folder = make_image_folder(tmp_path / "pets", classes=("cat",), per_class=5)
    files, paths = _files(folder, tmp_path)
    upload = _start(alice_client)
    _send(alice_client, upload, files, paths)
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    error = failed(alice_client, r, "class")
    assert str(tmp_path) not in error
    ds = Dataset.objects.get()
    assert ds.status == "failed" and not dataset_dir(ds.pk).exists()
    assert not upload_dir(upload).exists()


def test_it_refuses_to_finish_an_empty_upload(alice_client):
    upload = _start(alice_client)
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    assert r.status_code == 400
    assert Dataset.objects.count() == 0


def test_it_hides_another_users_upload(alice_client, bob_client):
    upload = _start(alice_client)
    r = bob_client.post(f"/api/uploads/{upload}/finish/")
    assert r.status_code == 404


def test_it_creates_a_dataset_from_a_zip(alice_client, tmp_path):
    folder = make_image_folder(tmp_path / "pets", per_class=10, split=True)
    archive = make_zip(folder, tmp_path / "pets.zip", prefix="pets/")
    with open(archive, "rb") as f:
        r = alice_client.post("/api/datasets/", {"file": f, "name": "zipped"})
    pk = accepted(r)
    assert sorted(p.name for p in dataset_dir(pk).iterdir()) == ["raw.zip"]  # stored, not read
    ready(alice_client, r)
    ds = Dataset.objects.get()
    assert ds.name == "zipped"
    assert ds.num_test == 4  # test/ split kept: n % 5 == 0 for 10 per class
    assert not any((tmp_path / "media" / "uploads").glob("*"))
    assert sorted(p.name for p in dataset_dir(ds.pk).iterdir()) == ["data.npz", "thumbs"]


def test_it_rejects_a_file_that_is_not_a_zip(alice_client):
    bogus = SimpleUploadedFile("pets.zip", b"PK-not-really")
    r = alice_client.post("/api/datasets/", {"file": bogus})
    assert r.status_code == 400
    assert Dataset.objects.count() == 0


def test_it_rejects_a_zip_with_unsafe_names(alice_client, tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../evil/cat/1.png", png_bytes(class_image(0)))
    with open(path, "rb") as f:
        r = alice_client.post("/api/datasets/", {"file": f})
    assert r.status_code == 400
    assert Dataset.objects.count() == 0


def test_it_asks_for_a_file(alice_client):
    r = alice_client.post("/api/datasets/", {"name": "x"})
    assert r.status_code == 400


def test_abandoned_uploads_are_purged(alice_client, settings):
    from datetime import timedelta

    from django.utils import timezone

    old = _start(alice_client)
    Upload.objects.filter(pk=old).update(created=timezone.now() - timedelta(days=2))
    _start(alice_client)
    assert not Upload.objects.filter(pk=old).exists()
    assert not upload_dir(old).exists()
    assert Upload.objects.count() == 1


# ----------------------------------------------------------------------------- bounded datasets


def _solid_zip(n: int, side: int, extras: dict[str, bytes] | None = None) -> SimpleUploadedFile:
    """n solid-colour side x side PNGs in 10 classes, as the issue's upload (one PNG per class,
    repeated: decoding is the same work)."""
    import io
    import zipfile

    import numpy as np

    colours = np.random.default_rng(0).integers(0, 256, (10, 3)).astype(np.uint8)
    pngs = [png_bytes(np.broadcast_to(c, (side, side, 3)).copy()) for c in colours]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(n):
            zf.writestr(f"solid/class{i % 10}/{i:05d}.png", pngs[i % 10])
        for name, raw in (extras or {}).items():
            zf.writestr(name, raw)
    return SimpleUploadedFile("solid.zip", buf.getvalue())


def test_a_small_upload_of_big_images_is_stored_small_at_the_working_resolution(alice_client):
    from searchapp.nas.data import load_npz
    from searchapp.storage import folder_bytes

    n = 400  # the case is 2,000 (bench/dataset_memory.py); 20 MB on disk for those
    r = alice_client.post("/api/datasets/", {"file": _solid_zip(n, 512), "name": "solid"})
    shown = ready(alice_client, r)
    ds = Dataset.objects.get()
    assert ds.image_size == 64 and ds.num_train + ds.num_test == n
    assert ds.resized == {"count": n, "from": "512x512"}
    assert shown["resized"] == ds.resized
    assert folder_bytes(dataset_dir(ds.pk)) <= 20 * 10**6 * n / 2000
    data = load_npz(dataset_dir(ds.pk) / "data.npz")
    assert data.x_train.shape[1:] == (64, 64, 3)
    page = alice_client.get(ds.get_absolute_url()).content.decode()
    assert f"{n} images resized to 64×64 px (most were 512x512)" in page


def test_an_upload_may_ask_for_a_larger_working_resolution(alice_client, tmp_path):
    folder = make_image_folder(tmp_path / "pets", per_class=3, size=128)
    files, paths = _files(folder, tmp_path)
    upload = _start(alice_client)
    _send(alice_client, upload, files, paths)
    r = alice_client.post(f"/api/uploads/{upload}/finish/", {"max_side": "256"})
    ready(alice_client, r)
    assert Dataset.objects.get().image_size == 128 and Dataset.objects.get().resized == {}


@pytest.mark.parametrize(
    "side, message",
    [("513", "8 to 512 px, got 513"), ("4", "8 to 512 px, got 4"), ("big", "number of pixels")],
)
def test_a_working_resolution_out_of_range_is_refused(alice_client, side, message):
    r = alice_client.post("/api/datasets/", {"file": _solid_zip(4, 16), "max_side": side})
    assert r.status_code == 400 and message in r.json()["error"]
    assert Dataset.objects.count() == 0


def test_a_dataset_over_the_pixel_budget_is_refused_with_the_numbers(alice_client, settings):
    settings.DATASET_MAX_PIXELS = 200_000_000
    r = alice_client.post("/api/datasets/", {"file": _solid_zip(2000, 512), "max_side": 512})
    assert failed(alice_client, r) == (
        "this dataset would decode to 524.3 M pixels (2,000 images of 512x512), over the "
        "200 M pixel budget; use a smaller working resolution or fewer images"
    )


def test_uploads_past_the_storage_quota_are_refused_with_the_numbers(
    alice_client, bob_client, settings, tmp_path
):
    from searchapp.storage import used_bytes

    ready(alice_client, alice_client.post("/api/datasets/", {"file": _solid_zip(20, 16)}))
    one = used_bytes(Dataset.objects.get().owner)
    settings.USER_STORAGE_QUOTA_BYTES = one * 3 // 2  # room for one such dataset, not two
    r = alice_client.post("/api/datasets/", {"file": _solid_zip(20, 16)})
    error = failed(alice_client, r)  # its packed size is known once packed
    assert f"this dataset takes {human_bytes(one)} on disk; with the {human_bytes(one)}" in error
    assert f"over your storage quota of {human_bytes(one * 3 // 2)}" in error
    Dataset.objects.filter(status="failed").delete()
    r = bob_client.post("/api/datasets/", {"file": _solid_zip(20, 16)})  # his own quota
    ready(bob_client, r)
    settings.USER_STORAGE_QUOTA_BYTES = one  # alice is at it now: refused before reading
    upload = _start(alice_client)
    _send(alice_client, upload, *_files(make_image_folder(tmp_path / "p", per_class=3), tmp_path))
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    assert r.status_code == 400 and "already use" in r.json()["error"]
    assert Dataset.objects.count() == 2 and not upload_dir(upload).exists()
    r = alice_client.post("/api/datasets/", {"file": _solid_zip(20, 16)})
    assert r.status_code == 400 and "already use" in r.json()["error"]
    assert Dataset.objects.count() == 2


def test_zip_and_folder_uploads_answer_with_the_same_keys_and_rejected_files(
    alice_client, tmp_path
):
    extras = {"solid/class0/broken.png": b"not an image", "solid/class1/notes.txt": b"hi"}
    r = alice_client.post("/api/datasets/", {"file": _solid_zip(20, 16, extras)})
    zipped = r.json()
    assert sorted(p for p, _ in ready(alice_client, r)["rejected"]) == sorted(extras)
    folder = make_image_folder(tmp_path / "pets", per_class=4, extras={"cat/x.png": b"no"})
    upload = _start(alice_client)
    _send(alice_client, upload, *_files(folder, tmp_path))
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    by_folder = r.json()
    assert set(zipped) == set(by_folder) == {"dataset", "url", "rejected"}
    assert set(zipped["dataset"]) == set(by_folder["dataset"])
    assert [p for p, _ in ready(alice_client, r)["rejected"]] == ["pets/cat/x.png"]
