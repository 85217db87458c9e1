"""Deleting searches and datasets: pages (confirm, then POST), the API (DELETE, 204), owner only,
files included; and a job whose search is gone ends quietly."""

from __future__ import annotations

import pytest
from django.test import Client

from searchapp.models import Candidate, Dataset, Search
from searchapp.storage import dataset_dir, search_dir
from searchapp.tasks import broadcast, queue
from searchapp.tasks.search import run_search_job
from tests.builders import finish_with_weights


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what waits for the commit (file removal, admission) as a real request would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _finished(search) -> Search:
    finish_with_weights(search, {"pt": b"w", "onnx": b"o"})
    Candidate.objects.create(search=search, index=0, phase="depth", status="ok")
    return search


# ----------------------------------------------------------------------------- searches


def test_the_page_asks_first_then_deletes_the_search_and_its_files(alice_client, search, commit):
    _finished(search)
    r = alice_client.get(f"/searches/{search.pk}/delete/")
    assert r.status_code == 200
    assert f"Delete search {search.pk}?" in r.content.decode()
    assert Search.objects.filter(pk=search.pk).exists()
    with commit():
        r = alice_client.post(f"/searches/{search.pk}/delete/", follow=True)
    assert r.redirect_chain == [("/searches/", 302)]
    assert f"Search {search.pk} is deleted." in r.content.decode()
    assert not Search.objects.exists() and not Candidate.objects.exists()
    assert not search_dir(search.pk).exists()


@pytest.mark.parametrize("kind", ["searches", "datasets"])
def test_the_detail_and_list_pages_link_to_the_confirmation(alice_client, search, kind):
    pk = search.pk if kind == "searches" else search.dataset_id
    link = f'href="/{kind}/{pk}/delete/"'
    assert link in alice_client.get(f"/{kind}/{pk}/").content.decode()
    assert link in alice_client.get(f"/{kind}/").content.decode()


def test_the_api_deletes_a_search_with_204(alice_client, search, commit):
    _finished(search)
    with commit():
        r = alice_client.delete(f"/api/searches/{search.pk}/")
    assert r.status_code == 204 and r.content == b""
    assert not Search.objects.exists() and not search_dir(search.pk).exists()
    assert alice_client.delete(f"/api/searches/{search.pk}/").status_code == 404


def test_another_user_cannot_delete_it(bob_client, search):
    _finished(search)
    assert bob_client.get(f"/searches/{search.pk}/delete/").status_code == 404
    assert bob_client.post(f"/searches/{search.pk}/delete/").status_code == 404
    assert bob_client.delete(f"/api/searches/{search.pk}/").status_code == 404
    assert Search.objects.filter(pk=search.pk).exists() and search_dir(search.pk).exists()


def test_a_session_delete_needs_the_csrf_token(alice, search):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.delete(f"/api/searches/{search.pk}/").status_code == 403
    assert client.post(f"/searches/{search.pk}/delete/").status_code == 403
    assert Search.objects.filter(pk=search.pk).exists()


def test_anonymous_deletes_are_refused(client, search):
    assert client.delete(f"/api/searches/{search.pk}/").status_code == 401
    r = client.post(f"/searches/{search.pk}/delete/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert Search.objects.filter(pk=search.pk).exists()


def test_a_running_search_is_deleted_at_once_and_its_job_left_to_clean_up(
    alice_client, search, commit
):
    # RQ is unreachable here, so whether a job still runs it cannot be told: its files stay
    # for the job (or a reconciler pass, tests/live) to remove
    Search.objects.filter(pk=search.pk).update(status="running", rq_job_id="search-1-abcdef12")
    (search_dir(search.pk) / "work").mkdir(parents=True)
    with commit():
        assert alice_client.delete(f"/api/searches/{search.pk}/").status_code == 204
    assert not Search.objects.exists()
    assert search_dir(search.pk).exists()


def test_a_waiting_search_is_deleted_with_nothing_left(alice_client, search, commit):
    assert search.status == "queued" and search.rq_job_id == ""
    search_dir(search.pk).mkdir(parents=True)
    with commit():
        assert alice_client.post(f"/searches/{search.pk}/delete/").status_code == 302
    assert not Search.objects.exists() and not search_dir(search.pk).exists()


# ----------------------------------------------------------------------------- datasets


def test_deleting_a_dataset_deletes_its_searches_and_all_their_files(alice_client, search, commit):
    dataset = search.dataset
    _finished(search)
    r = alice_client.get(f"/datasets/{dataset.pk}/delete/")
    assert r.status_code == 200 and "its 1 search " in r.content.decode()
    assert dataset_dir(dataset.pk).is_dir()
    with commit():
        r = alice_client.post(f"/datasets/{dataset.pk}/delete/")
    assert r.status_code == 302 and r["Location"] == "/datasets/"
    assert not Dataset.objects.exists() and not Search.objects.exists()
    assert not dataset_dir(dataset.pk).exists() and not search_dir(search.pk).exists()


def test_the_api_deletes_a_dataset_with_204_for_its_owner_only(
    alice_client, bob_client, search, commit
):
    dataset = search.dataset
    assert bob_client.delete(f"/api/datasets/{dataset.pk}/").status_code == 404
    assert Dataset.objects.exists()
    with commit():
        assert alice_client.delete(f"/api/datasets/{dataset.pk}/").status_code == 204
    assert not Dataset.objects.exists() and not Search.objects.exists()
    assert not dataset_dir(dataset.pk).exists()


# ----------------------------------------------------------------------------- its job


def test_a_job_whose_search_is_gone_ends_quietly_and_removes_its_files(search):
    pk = search.pk
    (search_dir(pk) / "work").mkdir(parents=True)
    search.delete()
    assert run_search_job(pk) == {"status": "deleted"}
    assert not search_dir(pk).exists()


def test_the_cancel_flag_is_up_once_the_row_is_deleted(search):
    flag = queue.CancelFlag(Search, search.pk)
    assert flag() is False
    search.delete()
    flag.checked = 0.0  # past the poll period
    assert flag() is True


def test_an_event_for_a_deleted_search_is_dropped(search):
    pk = search.pk
    search.delete()
    assert broadcast.record(pk, "search.phase", lambda s: {"phase": "depth"}) is None
