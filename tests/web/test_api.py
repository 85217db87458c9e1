import base64
import json

from django.test import Client

from searchapp.models import Candidate, Search
from tests.builders import TINY_SEARCH, finish_with_weights


def _basic(username, password):
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def test_it_lists_my_datasets(alice_client, dataset):
    body = alice_client.get("/api/datasets/").json()
    assert [d["name"] for d in body["datasets"]] == ["pets"]
    assert body["datasets"][0]["counts"]["cat"]["train"] == 16


def test_it_shows_one_dataset(alice_client, dataset):
    body = alice_client.get(f"/api/datasets/{dataset.pk}/").json()
    assert body["dataset"]["classes"] == ["cat", "dog"]


def test_it_creates_a_search_from_json_with_defaults(
    alice_client, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(
            "/api/searches/",
            json.dumps({"dataset": dataset.pk, "epochs": 3}),
            content_type="application/json",
        )
    assert r.status_code == 201, r.content
    body = r.json()["search"]
    assert body["status"] == "queued"
    assert body["settings"]["epochs"] == 3
    assert body["settings"]["max_depth"] == 15 and body["settings"]["recipe"] == "fast"
    assert Search.objects.get().rq_job_id


def test_it_accepts_lists_for_ops_and_kernels(alice_client, dataset):
    payload = dict(TINY_SEARCH, dataset=dataset.pk)
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["search"]["settings"]["kernels"] == [3]


def test_it_rejects_impossible_settings_with_field_errors(alice_client, dataset):
    payload = {"dataset": dataset.pk, "min_width": 64, "max_width": 16}
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 400
    assert "max_width" in r.json()["errors"]
    assert Search.objects.count() == 0


def test_it_rejects_broken_json(alice_client):
    r = alice_client.post("/api/searches/", "{nope", content_type="application/json")
    assert r.status_code == 400
    assert "JSON" in r.json()["error"]


def test_it_rejects_a_json_list(alice_client):
    r = alice_client.post("/api/searches/", "[1, 2]", content_type="application/json")
    assert r.status_code == 400


def test_it_rejects_an_unknown_dataset(alice_client, db):
    r = alice_client.post(
        "/api/searches/", json.dumps({"dataset": 999}), content_type="application/json"
    )
    assert r.status_code == 400
    assert "dataset" in r.json()["errors"]


def test_it_shows_a_search_with_its_candidates(alice_client, search):
    Candidate.objects.create(
        search=search, index=0, phase="depth", params=10, test_acc=50.0, status="ok", accepted=True
    )
    body = alice_client.get(f"/api/searches/{search.pk}/").json()["search"]
    assert body["id"] == search.pk
    assert [c["index"] for c in body["candidates"]] == [0]
    assert body["downloads"] == {}


def test_it_cancels_a_search(alice_client, search):
    body = alice_client.post(f"/api/searches/{search.pk}/cancel/").json()
    assert body["search"]["status"] == "cancelled"


def test_it_serves_weights(alice_client, search):
    finish_with_weights(search, {"onnx": b"onnx-bytes"})
    r = alice_client.get(f"/api/searches/{search.pk}/weights/onnx/")
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == b"onnx-bytes"
    assert alice_client.get(f"/api/searches/{search.pk}/weights/pt/").status_code == 404


def test_it_says_which_methods_are_allowed(alice_client, search):
    r = alice_client.delete(f"/api/searches/{search.pk}/")
    assert r.status_code == 405
    assert r["Allow"] == "GET"


def test_it_accepts_basic_credentials_without_csrf(alice, dataset):
    client = Client(enforce_csrf_checks=True)
    r = client.get("/api/datasets/", **_basic("alice", "alice-password"))
    assert r.status_code == 200
    r = client.post(
        "/api/searches/",
        json.dumps(dict(TINY_SEARCH, dataset=dataset.pk)),
        content_type="application/json",
        **_basic("alice", "alice-password"),
    )
    assert r.status_code == 201


def test_it_refuses_wrong_basic_credentials(alice):
    r = Client().get("/api/datasets/", **_basic("alice", "wrong"))
    assert r.status_code == 401
    r = Client().get("/api/datasets/", HTTP_AUTHORIZATION="Basic !!!")
    assert r.status_code == 401


def test_it_checks_csrf_for_session_users(alice, dataset):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    r = client.post(
        "/api/searches/", json.dumps({"dataset": dataset.pk}), content_type="application/json"
    )
    assert r.status_code == 403
    assert "CSRF" in r.json()["error"]


def test_odd_values_give_400_never_500(alice_client, dataset):
    odd_values = [None, "", "abc", -1, 10**40, 1.5, [], {}, ["x"], True, "NaN", "inf"]
    fields = [
        "dataset",
        "min_depth",
        "max_width",
        "width_step",
        "ops",
        "kernels",
        "l_gain",
        "target_acc",
        "recipe",
        "epochs",
        "seed",
        "device",
        "stem",
    ]
    for field in fields:
        for value in odd_values:
            payload = {"dataset": dataset.pk, **dict(TINY_SEARCH), field: value}
            r = alice_client.post(
                "/api/searches/", json.dumps(payload), content_type="application/json"
            )
            assert r.status_code in (201, 400), (field, value, r.status_code)
