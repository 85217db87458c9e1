"""Per-user limits, refused when a search or an upload is created: on the page, in the API
and in `manage.py search`, each time with the numbers and the setting's name."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from searchapp.models import Dataset, Search, Upload
from searchapp.nas.cost import PETA
from searchapp.quotas import search_cost
from searchapp.searches import cancel_search
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import TINY_SEARCH, make_imagedata

# The issue's: depth 30, width 512, 1,000 epochs, the paper recipe (and the default space else)
HOSTILE = {
    **{"min_depth": 3, "min_width": 16, "width_step": 16, "kernels": [3, 5, 7]},
    **{"max_depth": 30, "max_width": 512, "epochs": 1000, "recipe": "paper"},
}


def _post(client, dataset, **settings):
    payload = {"dataset": dataset.pk, **TINY_SEARCH, **settings}
    return client.post("/api/searches/", json.dumps(payload), content_type="application/json")


def _form(dataset, **settings):
    data = {"dataset": dataset.pk, **TINY_SEARCH, "l_gain": 0.5, "l_drop": 0.25, "c_drop": 0.5}
    data |= {
        "select_on": "validation",
        "val_frac": 0.1,
        "target": "none",
        "parallel": 1,
        "rule": "evidence",
    }  # as the page's form submits them
    data.update(settings)
    return data


# ----------------------------------------------------------------------------- waiting searches


def test_the_api_refuses_a_search_past_the_queue_limit_with_429(alice_client, dataset, settings):
    settings.SEARCH_MAX_QUEUED_PER_USER = 2
    assert [_post(alice_client, dataset).status_code for _ in range(2)] == [201, 201]
    r = _post(alice_client, dataset)
    assert r.status_code == 429
    body = r.json()
    assert "you have 2 searches waiting to start; at most 2 may wait" in body["error"]
    assert body["limit"] == "SEARCH_MAX_QUEUED_PER_USER"
    assert Search.objects.count() == 2


def test_one_users_queue_does_not_limit_another(alice_client, bob, bob_client, dataset, settings):
    settings.SEARCH_MAX_QUEUED_PER_USER = 1
    assert _post(alice_client, dataset).status_code == 201
    assert _post(alice_client, dataset).status_code == 429
    bobs = create_dataset_from_imagedata(bob, "bob's", make_imagedata(), "generated")
    assert _post(bob_client, bobs).status_code == 201


def test_a_cancelled_or_finished_search_frees_its_place(alice_client, dataset, settings):
    settings.SEARCH_MAX_QUEUED_PER_USER = 1
    assert _post(alice_client, dataset).status_code == 201
    cancel_search(Search.objects.get())
    assert _post(alice_client, dataset).status_code == 201
    Search.objects.filter(status="queued").update(status="finished")
    assert _post(alice_client, dataset).status_code == 201


def test_the_page_shows_the_queue_limit_as_a_form_error(alice_client, dataset, settings):
    settings.SEARCH_MAX_QUEUED_PER_USER = 1
    assert alice_client.post("/searches/new/", _form(dataset)).status_code == 302
    r = alice_client.post("/searches/new/", _form(dataset))
    assert r.status_code == 400
    assert "at most 1 may wait per user (SEARCH_MAX_QUEUED_PER_USER)" in r.content.decode()
    assert Search.objects.count() == 1


def test_the_command_refuses_past_the_queue_limit(dataset, settings):
    settings.SEARCH_MAX_QUEUED_PER_USER = 1
    call_command("search", str(dataset.pk), "--epochs", "1")
    with pytest.raises(CommandError, match="1 searches waiting to start; at most 1 may wait"):
        call_command("search", str(dataset.pk), "--epochs", "1")
    assert Search.objects.count() == 1


# ----------------------------------------------------------------------------- cost


def test_a_search_over_the_cost_ceiling_is_refused_with_its_estimate(
    alice_client, dataset, settings
):
    settings.SEARCH_MAX_COST_PMACS = 1
    r = _post(alice_client, dataset, **HOSTILE)
    assert r.status_code == 400
    message = r.json()["error"]
    # 32 training images of 16 px; 1 + 27 deeper + 31 narrower + 3 x 30 candidates + 2 joint
    # steps, then the final training (3x the epochs, at most 1,000) on the same images
    assert "this search may cost up to 480 PMAC (32 images x 1,000 epochs x" in message
    assert "x 151 candidates, then a final training of 1,000 epochs), over the ceiling" in message
    assert r.json()["limit"] == "SEARCH_MAX_COST_PMACS"
    assert not Search.objects.exists()


def test_the_page_and_the_command_give_the_same_estimate(alice_client, dataset, settings):
    settings.SEARCH_MAX_COST_PMACS = 1
    r = alice_client.post("/searches/new/", _form(dataset, **HOSTILE))
    assert r.status_code == 400
    assert "480 PMAC" in r.content.decode() and "ceiling of 1 PMAC" in r.content.decode()
    args = ["--max-depth", "30", "--max-width", "512", "--epochs", "1000", "--recipe", "paper"]
    args += ["--folds", "1"]  # as the form above (TINY_SEARCH)
    with pytest.raises(CommandError, match="480 PMAC .* over the ceiling of 1 PMAC"):
        call_command("search", str(dataset.pk), *args)
    with pytest.raises(CommandError, match="over the ceiling"):
        call_command("search", str(dataset.pk), "--sync", *args)
    assert not Search.objects.exists()


def test_the_default_ceiling_takes_a_default_search_and_refuses_the_issues_one(
    alice_client, dataset
):
    # the issue's 2,000 images (1,600 for training), stored at the 64 px working resolution
    Dataset.objects.filter(pk=dataset.pk).update(num_train=1600, image_size=64)
    assert _post(alice_client, dataset, max_depth=15, max_width=64, epochs=None).status_code == 201
    assert _post(alice_client, dataset, **HOSTILE).status_code == 400


def test_waiting_and_running_searches_share_the_ceiling(alice_client, dataset, settings):
    one = search_cost(dataset, TINY_SEARCH).total
    settings.SEARCH_MAX_COST_PMACS = 1.5 * one / PETA
    assert _post(alice_client, dataset).status_code == 201
    r = _post(alice_client, dataset)
    assert r.status_code == 429
    assert "with your 1 waiting or running searches" in r.json()["error"]
    Search.objects.update(status="running")
    assert _post(alice_client, dataset).status_code == 429
    Search.objects.update(status="failed")
    assert _post(alice_client, dataset).status_code == 201


# ----------------------------------------------------------------------------- uploads


def test_unfinished_uploads_are_limited_per_user(alice_client, bob_client, settings):
    settings.UPLOAD_MAX_UNFINISHED_PER_USER = 2
    started = [alice_client.post("/api/uploads/").status_code for _ in range(2)]
    assert started == [201, 201]
    r = alice_client.post("/api/uploads/")
    assert r.status_code == 429
    assert "you have 2 unfinished folder uploads; at most 2 per user" in r.json()["error"]
    assert r.json()["limit"] == "UPLOAD_MAX_UNFINISHED_PER_USER"
    assert bob_client.post("/api/uploads/").status_code == 201


def test_a_finished_or_abandoned_upload_frees_its_place(alice_client, settings):
    settings.UPLOAD_MAX_UNFINISHED_PER_USER = 1
    first = alice_client.post("/api/uploads/").json()["upload"]
    assert alice_client.post("/api/uploads/").status_code == 429
    stale = timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS + 1)
    Upload.objects.filter(pk=first).update(created=stale)
    assert alice_client.post("/api/uploads/").status_code == 201
    assert not Upload.objects.filter(pk=first).exists()  # purged when the next one started
