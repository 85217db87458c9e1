"""The start page: three steps (Upload, Search, Deploy) and where the user stands in each."""

from __future__ import annotations

import re

from searchapp.models import Search
from tests.builders import finish_with_weights, make_finished_search


def _page(client) -> str:
    r = client.get("/start/")
    assert r.status_code == 200
    return r.content.decode()


def _stage(html: str) -> str:
    return re.search(r'id="steps" data-stage="(\w+)"', html).group(1)


def _current(html: str) -> list[str]:
    """The ids of the steps marked as the current one."""
    return re.findall(r'id="(step-\w+)" aria-current="step"', html)


def test_signing_in_leads_to_the_start_page(client, alice):
    r = client.post("/accounts/login/", {"username": "alice", "password": "alice-password"})
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.get("/")["Location"] == "/start/"


def test_a_new_user_starts_with_the_upload(alice_client):
    html = _page(alice_client)
    assert _stage(html) == "upload" and _current(html) == ["step-upload"]
    assert '<a class="button primary" id="action-upload" href="/datasets/new/">' in html
    assert '<button type="button" id="action-search" disabled>' in html  # no dataset yet
    assert '<button type="button" id="action-deploy" disabled>' in html


def test_with_a_dataset_the_next_step_is_a_search_on_it(alice_client, dataset):
    html = _page(alice_client)
    assert _stage(html) == "search" and _current(html) == ["step-search"]
    assert "You have 1 dataset; the latest is" in html and dataset.name in html
    assert f'id="action-search" href="/searches/new/?dataset={dataset.pk}">Start a search' in html
    assert '<a class="button" id="action-upload"' in html  # done: no longer the main action


def test_a_running_search_shows_its_progress_and_a_link_to_watch_it(alice_client, search):
    search.status = Search.Status.RUNNING
    search.phase = "width"
    search.progress = {"index": 4, "phase": "width", "epoch": 2, "epochs": 5}
    search.save()
    html = _page(alice_client)
    assert _stage(html) == "running" and _current(html) == ["step-search"]
    assert f'id="action-search" href="/searches/{search.pk}/">Watch it live' in html
    assert 'max="5" value="2"' in html and "Training #4 (width): epoch 2/5" in html
    assert "phase width" in html


def test_a_finished_search_offers_its_model_and_downloads(alice_client, alice, dataset):
    s = make_finished_search(alice, dataset, (70.0, 82.5), depth=4, width=16, final_acc=84.0)
    finish_with_weights(s, {"pt": b"w", "onnx": b"o"})
    html = _page(alice_client)
    assert _stage(html) == "deploy" and _current(html) == ["step-deploy"]
    assert f'class="button primary" id="action-deploy" href="/searches/{s.pk}/"' in html
    assert f'href="/searches/{s.pk}/download/pt/" download>Weights (.pt)' in html
    assert f'href="/searches/{s.pk}/download/onnx/" download>ONNX (.onnx)' in html
    # the headline (the final model's file, no board), as on the list and the search page
    assert '<strong class="headline-acc">84.00%' in html and "82.50%" not in html
    assert "test accuracy of the final model" in html
    assert "Start another search" in html


def test_the_model_offered_is_the_latest_with_files(alice_client, alice, dataset):
    with_files = make_finished_search(alice, dataset)
    finish_with_weights(with_files, {"onnx": b"o"})
    make_finished_search(alice, dataset)  # later, but without a model file
    html = _page(alice_client)
    assert f'id="action-deploy" href="/searches/{with_files.pk}/"' in html


def test_a_running_search_comes_first_while_a_model_is_ready(alice_client, alice, dataset):
    ready = make_finished_search(alice, dataset)
    running = Search.objects.create(owner=alice, dataset=dataset, settings={}, status="running")
    html = _page(alice_client)
    assert _stage(html) == "running"
    assert f'href="/searches/{running.pk}/">Watch it live' in html
    assert f'class="button" id="action-deploy" href="/searches/{ready.pk}/"' in html


def test_a_failed_last_search_is_mentioned(alice_client, search):
    search.status = Search.Status.FAILED
    search.save()
    html = _page(alice_client)
    assert _stage(html) == "search"
    assert f"search {search.pk}</a>, was failed" in html


def test_another_users_things_do_not_show(bob_client, alice, dataset):
    make_finished_search(alice, dataset)
    html = _page(bob_client)
    assert _stage(html) == "upload" and dataset.name not in html
