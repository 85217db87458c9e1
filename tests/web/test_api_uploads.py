"""Folder uploads in batches (with relative paths) and zip uploads, through the JSON API."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from searchapp.models import Dataset, Upload
from searchapp.storage import dataset_dir, upload_dir
from tests.builders import class_image, make_image_folder, make_zip, png_bytes


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
    assert r.status_code == 201, r.content
    body = r.json()
    ds = Dataset.objects.get()
    assert body["url"] == f"/datasets/{ds.pk}/"
    assert ds.name == "my pets"
    assert ds.classes == ["cat", "dog"]
    assert ds.num_train + ds.num_test == 30
    assert (dataset_dir(ds.pk) / "data.npz").is_file()
    assert not upload_dir(upload).exists()  # raw files deleted once packed
    assert Upload.objects.count() == 0


def test_it_reports_rejected_files_with_reasons(alice_client, tmp_path):
    extras = {"cat/broken.png": b"not an image at all", "dog/notes.txt": b"hello"}
    folder = make_image_folder(tmp_path / "pets", per_class=6, extras=extras)
    files, paths = _files(folder, tmp_path)
    upload = _start(alice_client)
    assert _send(alice_client, upload, files, paths).status_code == 200
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    assert r.status_code == 201
    rejected = dict((p.split("/", 1)[-1], reason) for p, reason in r.json()["rejected"])
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
    assert r.status_code == 400
    assert "class" in r.json()["error"]
    assert str(tmp_path) not in r.json()["error"]
    assert Dataset.objects.count() == 0
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
    assert r.status_code == 201, r.content
    ds = Dataset.objects.get()
    assert ds.name == "zipped"
    assert ds.num_test == 4  # test/ split kept: n % 5 == 0 for 10 per class
    assert not any((tmp_path / "media" / "uploads").glob("*"))


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
