"""The baselines section of the search page: the button, the table, the status JSON."""

import django_rq
import pytest

from searchapp.models import BaselineRun, Candidate
from searchapp.serializers import baseline_rows


@pytest.fixture
def finished(search):
    best = Candidate.objects.create(
        search=search, index=0, phase="depth", arch={"depth": 3, "width": 8, "stem": "cifar"},
        params=20_000, test_acc=91.5, status="ok", accepted=True, device="cpu",
    )  # fmt: skip
    search.status, search.best = "finished", best
    search.save()
    return search


def test_a_finished_search_offers_the_button(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert 'id="baselines-train"' in html and "Train baselines" in html
    assert "Mini-NAS (this search)" in html and "20,000" in html


def test_a_running_search_hides_the_button_until_it_finishes(alice_client, search):
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    assert '<div id="baselines-ready" hidden>' in html  # search.js reveals it on search.finished
    assert '<p class="help" id="baselines-wait">' in html
    assert "once the search has finished" in html


def test_a_finished_search_shows_the_button(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert '<div id="baselines-ready">' in html
    assert 'id="baselines-wait" hidden' in html


@pytest.mark.live
def test_the_button_queues_one_job_for_both(
    alice_client, finished, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(f"/searches/{finished.pk}/baselines/")
    assert r.status_code == 302 and r["Location"].endswith(f"/searches/{finished.pk}/#baselines")
    assert sorted(finished.baselines.values_list("name", "status")) == [
        ("efficientnet_b0", "queued"),
        ("mobilenet_v2", "queued"),
    ]
    assert django_rq.get_queue("gpu").count == 1
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert 'id="baselines-cancel"' in html and 'data-active="1"' in html


def test_an_unfinished_search_gets_a_message_not_a_job(alice_client, search):
    r = alice_client.post(f"/searches/{search.pk}/baselines/", follow=True)
    assert "baselines need a finished search" in r.content.decode()
    assert not BaselineRun.objects.exists()


def test_results_show_accuracy_params_and_efficiency(alice_client, finished):
    BaselineRun.objects.create(
        search=finished, name="mobilenet_v2", status="finished",
        metrics={"test_acc": 93.25, "params": 2_236_682, "epochs": 1, "seconds": 3, "device": "cpu"},
    )  # fmt: skip
    BaselineRun.objects.create(search=finished, name="efficientnet_b0", status="running",
                               progress={"epoch": 2, "epochs": 5, "test_acc": 50.0})  # fmt: skip
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    assert "MobileNetV2 (M-Net)" in html and "93.25%" in html and "2,236,682" in html
    assert "111.8×" in html  # 2,236,682 / 20,000
    assert "epoch 2/5" in html
    rows = baseline_rows(finished)  # what the page's socket sends (baseline.* events)
    assert [b["name"] for b in rows] == ["mobilenet_v2", "efficientnet_b0"]
    assert rows[0]["efficiency"] == pytest.approx(111.8341)
    assert rows[1]["active"] is True


def test_cancel_ends_queued_baselines(alice_client, finished):
    BaselineRun.objects.create(search=finished, name="mobilenet_v2")
    r = alice_client.post(f"/searches/{finished.pk}/baselines/cancel/")
    assert r.status_code == 302
    assert finished.baselines.get().status == "cancelled"


def test_another_user_gets_404(bob_client, finished):
    assert bob_client.post(f"/searches/{finished.pk}/baselines/").status_code == 404
    assert bob_client.post(f"/searches/{finished.pk}/baselines/cancel/").status_code == 404
    assert not BaselineRun.objects.exists()
