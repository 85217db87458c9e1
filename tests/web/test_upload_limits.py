"""Folder-upload limits that hold: a path sent again, raw files in the quota, the refused list."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from searchapp.models import Upload
from searchapp.storage import upload_dir, used_bytes
from searchapp.uploads import REJECTED_MAX_ENTRIES, REJECTED_MAX_NAME, capped_rejected


def _start(client):
    r = client.post("/api/uploads/", {"name": "pets"})
    assert r.status_code == 201, r.content
    return r.json()["upload"]


def _send(client, upload, named_bytes: dict[str, bytes]):
    files = [SimpleUploadedFile(p.rsplit("/", 1)[-1], b) for p, b in named_bytes.items()]
    return client.post(
        f"/api/uploads/{upload}/files/", {"files": files, "paths": json.dumps(list(named_bytes))}
    )


def test_a_path_sent_again_is_counted_by_its_new_size(alice_client, settings):
    settings.UPLOAD_MAX_TOTAL_BYTES = 1000
    upload = _start(alice_client)
    assert _send(alice_client, upload, {"c/a.png": b"x" * 5}).status_code == 200
    r = _send(alice_client, upload, {"c/a.png": b"x" * 800})
    assert r.status_code == 200 and (r.json()["files"], r.json()["bytes"]) == (1, 800)
    r = _send(alice_client, upload, {"c/a.png": b"x" * 1001})  # replaced, yet over the limit
    assert r.status_code == 400 and "at most" in r.json()["error"]
    row = Upload.objects.get()
    assert (row.files, row.bytes) == (1, 800)
    assert (upload_dir(upload) / "c" / "a.png").stat().st_size == 800


def test_raw_files_of_an_unfinished_upload_count_in_the_quota(alice_client, alice, settings):
    upload = _start(alice_client)
    assert _send(alice_client, upload, {"c/a.png": b"x" * 3000}).status_code == 200
    assert used_bytes(alice) == 3000
    settings.USER_STORAGE_QUOTA_BYTES = 5000
    r = _send(alice_client, upload, {"c/b.png": b"x" * 3000})
    assert r.status_code == 400 and "storage quota" in r.json()["error"]
    assert not (upload_dir(upload) / "c" / "b.png").exists()
    assert used_bytes(alice) == 3000


def test_the_refused_list_is_capped_in_count_and_name_length(alice_client):
    upload = _start(alice_client)
    names = [f"../{'n' * 5000}{i}.png" for i in range(REJECTED_MAX_ENTRIES + 50)]
    for i in range(0, len(names), 50):
        r = _send(alice_client, upload, {n: b"x" for n in names[i : i + 50]})
        assert r.status_code == 200, r.content
    _send(alice_client, upload, {f"../again{i}.png": b"x" for i in range(10)})
    rejected = Upload.objects.get().rejected
    assert len(rejected) == REJECTED_MAX_ENTRIES + 1
    assert rejected[-1] == ["…", "and 60 more files refused"]
    assert all(len(name) <= REJECTED_MAX_NAME for name, _ in rejected)
    assert "…" in rejected[0][0]
    assert len(json.dumps(rejected, ensure_ascii=False)) < (REJECTED_MAX_ENTRIES + 1) * (
        2 * REJECTED_MAX_NAME + 20
    )  # about 120 KB, against 1.25 MB of names sent


def test_capped_rejected_keeps_a_short_list_as_it_is():
    assert capped_rejected([("a.png", "not an image")]) == [["a.png", "not an image"]]
    assert capped_rejected([]) == []
