import re

import django_rq
import pytest
from django.conf import settings

from searchapp.models import Candidate, Search
from tests.builders import TINY_SEARCH, finish_with_weights


def _form(dataset, **changes):
    data = {
        "dataset": dataset.pk,
        "min_depth": 3,
        "max_depth": 15,
        "min_width": 16,
        "max_width": 64,
        "width_step": 16,
        "ops": ["sep", "conv"],
        "kernels": ["3", "5", "7"],
        "l_gain": 0.5,
        "l_drop": 0.25,
        "c_drop": 0.5,
        "target_acc": "",
        "recipe": "fast",
        "epochs": "",
        "seed": 0,
        "device": "auto",
        "stem": "",
        "select_on": "validation",
        "val_frac": 0.1,
        "rule": "evidence",
        "folds": "auto",
        "final_recipe": "",
        "final_epochs": "",
        "target": "none",
        "parallel": 1,
    }
    data.update(changes)
    return data


def test_the_form_has_paper_defaults(alice_client, dataset):
    r = alice_client.get(f"/searches/new/?dataset={dataset.pk}")
    html = r.content.decode()
    assert r.status_code == 200
    for dom_id, value in (
        ("id_min_depth", 3),
        ("id_max_depth", 15),
        ("id_min_width", 16),
        ("id_max_width", 64),
        ("id_width_step", 16),
        ("id_seed", 0),
    ):
        tag = re.search(rf'<input[^>]*id="{dom_id}"[^>]*>', html).group(0)
        assert f'value="{value}"' in tag, tag
    assert 'id="start-button"' in html and 'id="id_recipe"' in html and 'id="id_epochs"' in html
    assert f'<option value="{dataset.pk}" selected>' in html


@pytest.mark.live
def test_it_starts_a_search_and_queues_it_with_a_long_timeout(
    alice_client, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post("/searches/new/", _form(dataset, epochs=2, max_depth=6))
    search = Search.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/searches/{search.pk}/"
    assert search.status == "queued"
    assert search.settings["max_depth"] == 6 and search.settings["epochs"] == 2
    queue = django_rq.get_queue("gpu")
    job = queue.fetch_job(search.rq_job_id)
    assert job is not None
    assert job.func_name == "searchapp.tasks.search.run_search_job"
    assert job.args == (search.pk,)
    assert job.timeout == settings.SEARCH_JOB_TIMEOUT


def test_it_rejects_min_depth_above_max_depth(alice_client, dataset):
    r = alice_client.post("/searches/new/", _form(dataset, min_depth=9, max_depth=4))
    assert r.status_code == 400
    assert "max_depth" in r.context["form"].errors
    assert Search.objects.count() == 0


def test_it_rejects_zero_width_step(alice_client, dataset):
    r = alice_client.post("/searches/new/", _form(dataset, width_step=0))
    assert r.status_code == 400
    assert "width_step" in r.context["form"].errors


def test_it_rejects_no_kernels(alice_client, dataset):
    r = alice_client.post("/searches/new/", _form(dataset, kernels=[]))
    assert "kernels" in r.context["form"].errors


def test_it_rejects_a_target_accuracy_above_100(alice_client, dataset):
    r = alice_client.post("/searches/new/", _form(dataset, target_acc=120))
    assert "target_acc" in r.context["form"].errors


def test_it_rejects_text_in_number_fields(alice_client, dataset):
    r = alice_client.post("/searches/new/", _form(dataset, epochs="many"))
    assert r.status_code == 400
    assert "epochs" in r.context["form"].errors


def test_it_rejects_another_users_dataset(alice_client, bob):
    from searchapp.storage import create_dataset_from_imagedata
    from tests.builders import make_imagedata

    theirs = create_dataset_from_imagedata(bob, "bobs", make_imagedata(), source="x")
    r = alice_client.post("/searches/new/", _form(theirs))
    assert r.status_code == 400
    assert "dataset" in r.context["form"].errors


def test_a_queued_search_page_has_the_live_elements(alice_client, search):
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    for dom_id in (
        "search-status",
        "search-phase",
        "epoch-progress",
        "candidates-chart",
        "candidates-table",
        "best-table",
        "best-params",
        "cancel-button",
    ):
        assert f'id="{dom_id}"' in html, dom_id
    assert 'id="download-pt"' not in html and 'id="download-onnx"' not in html
    assert "vendor/chart.umd.min.js" in html and "js/search.js" in html
    assert 'id="search-snapshot"' in html


def test_the_page_renders_saved_candidates(alice_client, search):
    arch = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
    for i in range(2):
        Candidate.objects.create(
            search=search,
            index=i,
            phase="depth",
            arch=arch,
            params=1000 + i,
            test_acc=70.0 + i,
            status="ok",
            accepted=i == 0,
        )
    Candidate.objects.create(search=search, index=2, phase="width", arch=arch, status="running")
    search.best = search.candidates.get(index=0)
    search.status = "running"
    search.save()
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    table = html.split('id="candidates-table"', 1)[1] if 'id="candidates-table"' in html else html
    in_flight = html.split('id="in-flight-table"', 1)[1].split("</table>", 1)[0]
    assert in_flight.count('<tr data-index="2"') == 1  # the running one is in flight
    assert table.split("</table>", 1)[0].count('<tr data-index="') == 2  # not a row yet
    assert "1,000 params" in html
    assert html.count('<td data-field="op">Sep</td>') == 3  # best-table rows


def test_a_finished_search_offers_downloads(alice_client, search):
    finish_with_weights(search, {"pt": b"weights", "onnx": b"onnx"})
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    assert 'id="download-pt"' in html and 'id="download-onnx"' in html
    assert 'id="cancel-button"' not in html
    r = alice_client.get(f"/searches/{search.pk}/download/pt/")
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == b"weights"
    assert "attachment" in r["Content-Disposition"]


def test_a_download_that_does_not_exist_is_404(alice_client, search):
    assert alice_client.get(f"/searches/{search.pk}/download/onnx/").status_code == 404


def test_cancel_of_a_queued_search_ends_it_at_once(alice_client, search):
    r = alice_client.post(f"/searches/{search.pk}/cancel/")
    assert r.status_code == 302
    search.refresh_from_db()
    assert search.status == "cancelled" and search.cancel_requested


def test_cancel_of_a_running_search_sets_the_flag(alice_client, search):
    search.status = "running"
    search.save()
    alice_client.post(f"/searches/{search.pk}/cancel/")
    search.refresh_from_db()
    assert search.status == "running" and search.cancel_requested


def test_cancel_needs_post(alice_client, search):
    assert alice_client.get(f"/searches/{search.pk}/cancel/").status_code == 405


def test_the_list_shows_status_dataset_and_best(alice_client, search):
    c = Candidate.objects.create(
        search=search,
        index=0,
        phase="depth",
        params=4321,
        test_acc=88.5,
        status="ok",
        accepted=True,
    )
    search.best = c
    search.save()
    html = alice_client.get("/searches/").content.decode()
    assert "pets" in html and "queued" in html and "88.50%" in html and "4,321" in html


def test_tiny_settings_are_valid(alice_client, dataset):
    data = _form(dataset, **{k: v for k, v in TINY_SEARCH.items()})
    r = alice_client.post("/searches/new/", data)
    assert r.status_code == 302
