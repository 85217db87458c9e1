"""Uploads are packed by a job, not by the request: the request stores the raw files and answers
202 with the dataset "packing"; the job (searchapp.tasks.pack) makes it ready or failed. Limits
on how many are packed at once, deletion while packing, and what pages and forms show meanwhile.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rq.job import Job
from rq.worker import SimpleWorker

from searchapp import searches as search_service
from searchapp.models import Dataset, Upload
from searchapp.storage import dataset_dir, upload_dir
from searchapp.tasks import pack
from searchapp.tasks.pack import run_pack_job
from searchapp.tasks.packing import admit_packing
from tests.builders import TINY_SEARCH, class_image, png_bytes
from tests.web.packing import accepted, failed, ready, run_packing


def _zip(classes=("cat", "dog"), per_class: int = 4) -> SimpleUploadedFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for label, cls in enumerate(classes):
            for n in range(per_class):
                zf.writestr(f"{cls}/{n}.png", png_bytes(class_image(label, seed=n)))
    return SimpleUploadedFile("pets.zip", buf.getvalue())


def _upload(client, name="pets", **zip_args):
    return client.post("/api/datasets/", {"file": _zip(**zip_args), "name": name})


def _folder_upload(client) -> str:
    """A started folder upload with one batch of images in it; its id."""
    upload = client.post("/api/uploads/", {"name": "f"}).json()["upload"]
    paths = [f"{c}/{n}.png" for c in ("cat", "dog") for n in range(3)]
    files = [SimpleUploadedFile("x.png", png_bytes(class_image(i % 2))) for i in range(6)]
    r = client.post(f"/api/uploads/{upload}/files/", {"files": files, "paths": json.dumps(paths)})
    assert r.status_code == 200, r.content
    return upload


def test_the_request_stores_the_zip_and_decodes_nothing(alice_client):
    pk = accepted(_upload(alice_client))
    d = Dataset.objects.get(pk=pk)
    assert (d.status, d.classes, d.num_train, d.npz_path) == ("packing", [], 0, "")
    assert [p.name for p in dataset_dir(pk).iterdir()] == ["raw.zip"]
    shown = alice_client.get(f"/api/datasets/{pk}/").json()["dataset"]
    # RQ is unreachable here: it waits, unadmitted, for a later admission
    assert shown["packing"]["state"] == "waiting" and shown["packing"]["message"]
    shown = run_packing(alice_client, pk)
    assert shown["status"] == "ready" and shown["num_train"] + shown["num_test"] == 8
    assert sorted(p.name for p in dataset_dir(pk).iterdir()) == ["data.npz", "thumbs"]


def test_a_folder_upload_is_handed_over_with_its_files_refused_on_arrival(alice_client):
    upload = _folder_upload(alice_client)
    r = alice_client.post(
        f"/api/uploads/{upload}/files/",
        {"files": [SimpleUploadedFile("x.png", b"x")], "paths": json.dumps(["../evil.png"])},
    )
    assert r.json()["refused"] == [["../evil.png", "unsafe path '../evil.png'"]]
    r = alice_client.post(f"/api/uploads/{upload}/finish/", {"max_side": "32"})
    pk = accepted(r)
    assert r.json()["rejected"] == [["../evil.png", "unsafe path '../evil.png'"]]
    assert not upload_dir(upload).exists() and not Upload.objects.exists()
    assert Dataset.objects.get(pk=pk).packing == {"max_side": 32}
    assert (dataset_dir(pk) / "raw" / "cat" / "0.png").is_file()
    shown = ready(alice_client, r)
    assert shown["rejected"] == [["../evil.png", "unsafe path '../evil.png'"]]
    assert shown["num_train"] + shown["num_test"] == 6 and shown["packing"] == {}
    assert alice_client.post(f"/api/uploads/{upload}/finish/").status_code == 404  # gone


def test_a_user_may_have_only_so_many_uploads_packing(alice_client, bob_client, settings):
    settings.PACK_MAX_PER_USER = 2
    first = accepted(_upload(alice_client))
    accepted(_upload(alice_client))
    r = _upload(alice_client)
    assert r.status_code == 429 and r.json()["limit"] == "PACK_MAX_PER_USER"
    assert "2 uploads being packed" in r.json()["error"]
    assert Dataset.objects.count() == 2
    upload = _folder_upload(alice_client)
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    assert r.status_code == 429 and "wait until one is ready" in r.json()["error"]
    assert Upload.objects.filter(pk=upload).exists()  # kept: finish it later
    accepted(_upload(bob_client))  # his own limit
    run_pack_job(first)
    accepted(alice_client.post(f"/api/uploads/{upload}/finish/"))


def test_a_dataset_deleted_before_its_job_runs_leaves_nothing(
    alice_client, django_capture_on_commit_callbacks
):
    pk = accepted(_upload(alice_client))
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/datasets/{pk}/").status_code == 204
    assert run_pack_job(pk) == {"dataset": pk, "status": "gone"}
    assert not dataset_dir(pk).exists()


def test_a_dataset_deleted_while_it_is_packed_leaves_nothing(
    alice_client, monkeypatch, django_capture_on_commit_callbacks
):
    pk = accepted(_upload(alice_client))
    read = pack.load_dataset

    def read_then_delete(*args, **kwargs):  # the owner deletes it while the job decodes
        data = read(*args, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            search_service.delete_dataset(Dataset.objects.get(pk=pk))
        return data

    monkeypatch.setattr(pack, "load_dataset", read_then_delete)
    assert run_pack_job(pk) == {"dataset": pk, "status": "deleted"}
    assert not dataset_dir(pk).exists() and not Dataset.objects.exists()


def test_the_purge_of_stale_uploads_leaves_datasets_being_packed_alone(alice_client):
    pk = accepted(alice_client.post(f"/api/uploads/{_folder_upload(alice_client)}/finish/"))
    stale = _folder_upload(alice_client)
    Upload.objects.update(created=timezone.now() - timedelta(days=2))
    alice_client.post("/api/uploads/", {"name": "new"})  # purges the stale one
    assert not Upload.objects.filter(pk=stale).exists() and not upload_dir(stale).exists()
    assert alice_client.post(f"/api/uploads/{stale}/finish/").status_code == 404
    assert run_packing(alice_client, pk)["status"] == "ready"


def test_a_job_that_breaks_marks_its_dataset_failed_without_server_paths(alice_client, settings):
    pk = accepted(_upload(alice_client))
    (dataset_dir(pk) / "data.npz").mkdir()  # the file system refuses to write data.npz
    with pytest.raises(OSError):
        run_pack_job(pk)  # RQ records it as a failed job
    d = Dataset.objects.get(pk=pk)
    assert d.status == "failed" and "Error" in d.error, d.error
    assert str(settings.MEDIA_ROOT) not in d.error
    assert not dataset_dir(pk).exists()


# ----------------------------------------------------------------------------- admission


@pytest.mark.live
def test_at_most_n_uploads_are_packed_at_once_one_per_user(
    alice_client, bob_client, settings, django_capture_on_commit_callbacks
):
    settings.PACK_MAX_CONCURRENT = 2
    with django_capture_on_commit_callbacks(execute=True):
        a1 = accepted(_upload(alice_client, "a1"))
        a2 = accepted(_upload(alice_client, "a2"))
        b1 = accepted(_upload(bob_client, "b1"))
    queue = django_rq.get_queue("default")
    on_workers = set(Dataset.objects.exclude(rq_job_id="").values_list("pk", flat=True))
    assert on_workers == {a1, b1} and queue.count == 2  # a2 waits: alice has one on a worker
    state = alice_client.get(f"/api/datasets/{a2}/").json()["dataset"]["packing"]["state"]
    assert state == "waiting"
    rounds = []
    while Dataset.objects.filter(status="packing").exists():
        assert len(rounds) < 3, rounds
        with django_capture_on_commit_callbacks(execute=True):  # a job's end admits the next
            assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        rounds.append(set(Dataset.objects.filter(status="ready").values_list("pk", flat=True)))
    assert rounds == [{a1, b1}, {a1, a2, b1}]
    assert all(len(d.classes) == 2 for d in Dataset.objects.all())


@pytest.mark.live
def test_a_dataset_whose_packing_job_is_lost_is_marked_failed(
    alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pk = accepted(_upload(alice_client))
    d = Dataset.objects.get(pk=pk)
    assert d.rq_job_id
    Job.fetch(d.rq_job_id, connection=django_rq.get_connection("default")).delete()
    admit_packing()  # admitted a moment ago: it may be about to be enqueued
    assert Dataset.objects.get(pk=pk).status == "packing"
    old = (timezone.now() - timedelta(minutes=5)).isoformat()
    Dataset.objects.filter(pk=pk).update(packing={**d.packing, "queued": old})
    admit_packing()  # as every reconciler pass does
    d.refresh_from_db()
    assert d.status == "failed" and "packing job stopped" in d.error
    assert not dataset_dir(pk).exists()


# ----------------------------------------------------------------------------- pages, forms


def test_the_page_of_a_packing_dataset_follows_it_then_shows_it(alice_client):
    r = _upload(alice_client)
    pk = accepted(r)
    html = alice_client.get(f"/datasets/{pk}/").content.decode()
    assert 'id="dataset-packing"' in html and f'data-api-url="/api/datasets/{pk}/"' in html
    assert "Packing…" in html and "js/dataset.js" in html
    assert 'id="start-search"' not in html and 'id="delete-link"' in html
    ready(alice_client, r)
    html = alice_client.get(f"/datasets/{pk}/").content.decode()
    assert 'id="dataset-counts"' in html and 'id="start-search"' in html
    assert "dataset-packing" not in html and "js/dataset.js" not in html


def test_the_page_of_a_failed_dataset_says_why(alice_client):
    r = _upload(alice_client, classes=("cat",))
    pk = accepted(r)
    failed(alice_client, r, "only one class")
    html = alice_client.get(f"/datasets/{pk}/").content.decode()
    assert 'id="dataset-error"' in html and "only one class (&#x27;cat&#x27;)" in html
    assert 'id="start-search"' not in html and "js/dataset.js" not in html
    rows = alice_client.get("/datasets/").content.decode()
    assert re.search(rf'<tr data-id="{pk}">.*?status-failed">failed<', rows, re.S)


def test_a_dataset_not_ready_is_not_offered_and_is_refused_with_its_state(
    alice_client, alice, dataset
):
    packing = Dataset.objects.create(owner=alice, name="still-packing", status="packing")
    broken = Dataset.objects.create(
        owner=alice, name="broken", status="failed", error="only one class ('cat')"
    )
    html = alice_client.get("/searches/new/").content.decode()
    select = re.search(r'<select name="dataset".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="(\d+)"', select)
    assert str(dataset.pk) in options
    assert str(packing.pk) not in options and str(broken.pk) not in options
    for d, words in ((packing, "is still being packed"), (broken, "could not be packed")):
        payload = json.dumps({"dataset": d.pk, **TINY_SEARCH})
        r = alice_client.post("/api/searches/", payload, content_type="application/json")
        assert r.status_code == 400
        assert words in r.json()["errors"]["dataset"][0], r.json()
    assert "only one class ('cat')" in r.json()["errors"]["dataset"][0]
    r = alice_client.post("/searches/new/", {"dataset": packing.pk, **TINY_SEARCH})
    assert r.status_code == 400 and "is still being packed" in r.content.decode()
