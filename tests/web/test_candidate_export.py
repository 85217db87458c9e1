"""Exporting a candidate the search did not choose: the API, its job on a real tiny search,
its downloads, and who may ask."""

import json

import pytest

from searchapp.models import Candidate, Search
from searchapp.nas.search import SearchConfig
from searchapp.tasks.export import run_export_job
from searchapp.tasks.search import run_search_job
from tests.builders import TINY_SEARCH, make_finished_search


def url(search, index, tail=""):
    return f"/api/searches/{search.pk}/candidates/{index}/export/{tail}"


@pytest.fixture
def finished(alice, dataset):
    return make_finished_search(alice, dataset)


def test_another_user_gets_404_for_the_export_and_its_files(bob_client, finished):
    assert bob_client.post(url(finished, 1)).status_code == 404
    assert bob_client.get(url(finished, 1)).status_code == 404
    assert bob_client.get(url(finished, 1, "pt/")).status_code == 404


def test_an_unknown_candidate_is_404_and_an_unexported_one_says_none(alice_client, finished):
    assert alice_client.post(url(finished, 99)).status_code == 404
    r = alice_client.get(url(finished, 1))
    assert r.status_code == 200 and r.json()["export"]["status"] == "none"
    assert alice_client.get(url(finished, 1, "pt/")).status_code == 404


def test_a_running_search_refuses_with_409(alice_client, finished):
    Search.objects.filter(pk=finished.pk).update(status="running")
    r = alice_client.post(url(finished, 1))
    assert r.status_code == 409 and "still running" in r.json()["error"]


def test_an_untrained_candidate_refuses_with_409(alice_client, finished):
    Candidate.objects.filter(search=finished, index=0).update(status="over_budget", test_acc=None)
    r = alice_client.post(url(finished, 0))
    assert r.status_code == 409 and "not trained" in r.json()["error"]


def test_a_search_without_result_json_refuses_with_409(alice_client, finished):
    r = alice_client.post(url(finished, 1))
    assert r.status_code == 409 and "result.json" in r.json()["error"]


@pytest.mark.live
def test_a_real_search_exports_another_candidate(
    alice, alice_client, bob_client, dataset, django_capture_on_commit_callbacks
):
    settings = TINY_SEARCH | {"max_depth": 3, "ops": ["sep"], "final_epochs": 1}
    config = SearchConfig.from_dict(settings).to_dict()
    search = Search.objects.create(owner=alice, dataset=dataset, settings=config)
    assert run_search_job(search.pk)["status"] == "finished"
    search.refresh_from_db()
    other = search.candidates.exclude(pk=search.best_id).filter(status="ok").first()
    assert other is not None

    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(url(search, other.index))
    assert r.status_code == 202 and r.json()["export"]["status"] == "queued"
    again = alice_client.post(url(search, other.index))  # queued already: the same job
    assert again.status_code == 202
    other.refresh_from_db()
    assert again.json()["export"]["status"] == "queued" and other.export["job"].startswith(
        f"export-{search.pk}-"
    )

    assert run_export_job(search.pk, other.index)["status"] == "done"
    r = alice_client.get(url(search, other.index))
    state = r.json()["export"]
    assert state["status"] == "done" and state["test_acc"] is not None
    assert {"pt", "onnx", "int8_tflite", "c_source", "c_header", "json"} <= set(state["downloads"])
    assert "tflm" in state["exports"]
    assert alice_client.post(url(search, other.index)).status_code == 200  # done: nothing queued

    f = alice_client.get(state["downloads"]["json"])
    written = json.loads(b"".join(f.streaming_content))
    assert f.status_code == 200 and written["candidate"] == other.index
    assert written["arch"] == other.arch
    assert f"search{search.pk}-candidate{other.index}" in f["Content-Disposition"]
    assert bob_client.get(state["downloads"]["pt"]).status_code == 404

    page = alice_client.get(f"/searches/{search.pk}/").content.decode()
    assert "Exported candidates" in page and state["downloads"]["int8_tflite"] in page


@pytest.mark.live
def test_an_export_whose_job_is_gone_is_queued_again(
    alice_client, finished, django_capture_on_commit_callbacks
):
    """A worker that died with the export leaves it "running" with no job in Redis: asking
    again queues a new job instead of waiting for ever."""
    from searchapp.storage import search_dir

    search_dir(finished.pk).mkdir(parents=True)
    (search_dir(finished.pk) / "result.json").write_text("{}")  # the job reads it, not the API
    Candidate.objects.filter(search=finished, index=1).update(
        export={"status": "running", "job": f"export-{finished.pk}-deadbeef"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(url(finished, 1))
    assert r.status_code == 202 and r.json()["export"]["status"] == "queued"
    job = Candidate.objects.get(search=finished, index=1).export["job"]
    assert job != f"export-{finished.pk}-deadbeef"
    import django_rq

    assert django_rq.get_queue("gpu").fetch_job(job).func_name == (
        "searchapp.tasks.export.run_export_job"
    )
