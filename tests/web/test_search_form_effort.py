"""The new-search form's three choices (dataset, board, effort presets with their time), the
estimate endpoint's per-preset times, plain-words errors on the marked field, and the search
page's progress: the phase stepper, the candidates against the bound, and the placeholder shown
before the first candidate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from searchapp.estimates import PRESETS, about, bound_seconds, measured_speed
from searchapp.forms import SearchForm
from searchapp.models import Candidate, Dataset, Search
from searchapp.nas.config import SETTINGS
from searchapp.nas.cost import Cost
from searchapp.quotas import search_cost

ROOT = Path(__file__).resolve().parents[2]
ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}


def full_form(dataset, **settings) -> dict:
    """Every field as the browser sends it (the defaults), with these settings."""
    data = {"dataset": dataset.pk, "effort": "balanced"}
    for name, field in SearchForm.base_fields.items():
        if field.initial is not None and name != "dataset" and field.initial is not False:
            data[name] = field.initial
    return data | settings


def measured(search, seconds=20.0, epochs=10, index=0) -> Candidate:
    return Candidate.objects.create(
        search=search, index=index, phase="depth", arch=ARCH, params=5000, test_acc=80.0,
        status="ok", epochs=epochs, seconds=seconds, accepted=index == 0, device="cpu",
    )  # fmt: skip


# ----------------------------------------------------------------------------- the form


def test_each_effort_preset_sets_its_settings(alice_client, dataset):
    for name, preset in PRESETS.items():
        r = alice_client.post("/searches/new/", full_form(dataset, effort=name))
        assert r.status_code == 302, r.content.decode()[:2000]
        stored = Search.objects.latest("pk").settings
        for key, value in preset["settings"].items():
            assert stored[key] == value, (name, key)


def test_custom_effort_keeps_the_expert_settings(alice_client, dataset):
    form = full_form(dataset, effort="custom", epochs=7, max_depth=5, folds="2")
    assert alice_client.post("/searches/new/", form).status_code == 302
    stored = Search.objects.get().settings
    assert (stored["epochs"], stored["max_depth"], stored["folds"]) == (7, 5, "2")


def test_the_page_offers_three_choices_first_and_every_setting_once(alice_client, dataset):
    html = alice_client.get("/searches/new/").content.decode()
    top = html.index('id="step-dataset"'), html.index('id="step-board"')
    assert top[0] < top[1] < html.index('id="effort-choice"') < html.index('id="expert"')
    assert 'value="balanced" id="id_effort_balanced" checked' in html
    assert '<option value="none" selected>No board (no size limit)</option>' in html
    assert 'id="custom-effort" hidden' in html
    assert '<details id="expert" class="settings-box">' in html  # closed
    for s in SETTINGS:
        assert html.count(f'name="{s.name}"') >= 1, s.name
        assert f'id="field-{s.name}"' in html or s.name == "target", s.name
    assert "Accuracy a deeper network must gain (points, L_gain)" in html


def test_the_dataset_just_uploaded_is_preselected(alice, alice_client, dataset):
    newer = Dataset.objects.create(owner=alice, name="newer", image_size=16, num_train=40)
    Dataset.objects.create(
        owner=alice, name="packing", image_size=16, status=Dataset.Status.PACKING
    )
    html = alice_client.get("/searches/new/").content.decode()
    assert f'<option value="{newer.pk}" selected>' in html
    asked = alice_client.get(f"/searches/new/?dataset={dataset.pk}").content.decode()
    assert f'<option value="{dataset.pk}" selected>' in asked


def test_a_form_error_names_the_field_in_plain_words_and_marks_it(alice_client, dataset):
    r = alice_client.post(
        "/searches/new/", full_form(dataset, effort="custom", min_depth=6, max_depth=4)
    )
    assert r.status_code == 400
    html = r.content.decode()
    field = html.split('id="field-max_depth"', 1)[1].split("</div>", 1)[0]
    assert 'aria-invalid="true"' in field and 'aria-describedby="id_max_depth_helptext' in field
    error = field.split('class="field-error" id="id_max_depth_error">', 1)[1].split("</p>")[0]
    assert "max_depth" not in error and "min_depth" not in error
    assert error.startswith("Deepest network") and "shallowest network" in error
    assert '<details id="expert" class="settings-box" open>' in html
    assert '<a href="#id_max_depth">Deepest network (layers, D_max)</a>' in html


def test_the_api_keeps_the_engines_messages(alice_client, dataset):
    r = alice_client.post(
        "/api/searches/",
        json.dumps({"dataset": dataset.pk, "min_depth": 6, "max_depth": 4}),
        content_type="application/json",
    )
    assert r.status_code == 400 and "max_depth" in json.dumps(r.json())


def test_effort_is_a_page_choice_not_an_api_setting(alice_client, dataset):
    r = alice_client.post(
        "/api/searches/",
        json.dumps({"dataset": dataset.pk, "effort": "quick"}),
        content_type="application/json",
    )
    assert r.status_code == 400 and "effort" in json.dumps(r.json())


# ----------------------------------------------------------------------------- the estimate


def test_the_estimate_says_no_measurement_before_any_search(alice_client, dataset):
    body = alice_client.get("/searches/new/estimate/", full_form(dataset)).json()
    assert body["time"] == "no measurement yet"
    assert set(body["presets"]) == set(PRESETS)
    assert all(p["seconds"] is None for p in body["presets"].values())


def test_the_estimate_gives_each_preset_a_time_from_the_measured_speed(
    alice, alice_client, dataset, search
):
    measured(search, seconds=20.0, epochs=10)
    speed = 20.0 / (10 * dataset.num_train)
    assert measured_speed(alice) == pytest.approx(speed)
    body = alice_client.get("/searches/new/estimate/", full_form(dataset)).json()
    times = {k: p["seconds"] for k, p in body["presets"].items()}
    settings = SearchForm(full_form(dataset), user=alice)
    assert settings.is_valid(), settings.errors
    for name, preset in PRESETS.items():
        cost = search_cost(dataset, settings.config | preset["settings"])
        trainings = cost.epochs * cost.candidates * cost.folds + cost.final_epochs
        assert times[name] == pytest.approx(speed * cost.images * trainings)
        assert body["presets"][name]["time"] == "at most " + about(times[name])
    assert times["quick"] < times["balanced"] < times["thorough"]
    quick = alice_client.get("/searches/new/estimate/", full_form(dataset, effort="quick"))
    assert quick.json()["time"] == body["presets"]["quick"]["time"]


def test_another_users_measurement_counts_until_the_user_has_one(bob, dataset, search):
    measured(search, seconds=5.0, epochs=5)
    assert measured_speed(bob) == pytest.approx(5.0 / (5 * dataset.num_train))


@pytest.mark.parametrize(
    "seconds, text",
    [(30, "under a minute"), (360, "about 6 min"), (7800, "about 2 h 10 min"),
     (3 * 86400, "about 3 days")],
)  # fmt: skip
def test_times_read_as_about(seconds, text):
    assert about(seconds) == text


def test_without_a_measurement_there_is_no_time():
    assert bound_seconds(Cost(images=10, epochs=1, macs=1, candidates=1), None) is None


# ----------------------------------------------------------------------------- the search page


def stepper(html: str) -> dict:
    ol = html.split('id="phase-stepper"', 1)[1].split("</ol>", 1)[0]
    return {
        part.split('data-step="', 1)[1].split('"', 1)[0]: part.split('class="', 1)[1].split('"')[0]
        for part in ol.split("<li")[1:]
    }


def test_before_the_first_candidate_a_placeholder_replaces_the_chart(alice_client, search):
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    placeholder = html.split('id="waiting-placeholder"', 1)[1].split("</div>", 1)[0]
    assert "Waiting for the first candidate…" in placeholder and "hidden" not in placeholder[:20]
    assert "The search starts when a worker is free." in placeholder
    assert '<div id="results-area" hidden>' in html
    assert set(stepper(html).values()) == {"todo"}
    measured(search)
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    assert '<div id="waiting-placeholder" class="placeholder" hidden>' in html
    assert '<div id="results-area">' in html


def test_the_stepper_and_the_count_follow_the_phase(alice_client, search):
    search.status, search.phase = "running", "width"
    search.save()
    for i in range(2):
        measured(search, index=i, seconds=12.0, epochs=3)
    Candidate.objects.create(  # recorded, never trained: not counted as trained
        search=search, index=2, phase="width", arch=ARCH, params=9000, status="over_budget",
        reason="RAM 300 KB > 256 KB",
    )  # fmt: skip
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    steps = stepper(html)
    assert list(steps) == ["depth", "width", "op", "kernel", "final", "export"]
    assert [steps[k] for k in steps] == ["done", "current"] + ["todo"] * 4
    assert '<li class="current" data-step="width" aria-current="step">' in html
    bound = search_cost(search.dataset, search.settings)
    assert (
        f'<strong id="candidate-current">2</strong> of at most <strong id="candidate-max">{bound.candidates}</strong>'
        in html
    )  # noqa: E501
    left = 12.0 * (bound.candidates - 3) + 4.0 * bound.final_epochs  # it took a place
    assert f'<strong id="time-left">at most {about(left)}</strong>' in html


def test_a_queued_search_says_how_many_of_the_users_searches_are_ahead(
    alice, alice_client, dataset, search
):
    search.status = "running"
    search.save()
    later = Search.objects.create(owner=alice, dataset=dataset, settings=search.settings)
    html = alice_client.get(f"/searches/{later.pk}/").content.decode()
    assert "Queued: 1 of your searches ahead of it" in html


def test_a_finished_search_has_every_step_done(alice_client, search):
    search.status, search.phase = "finished", "done"
    search.save()
    measured(search)
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    assert set(stepper(html).values()) == {"done"}
    assert '<div id="run-figures" hidden>' in html


# ----------------------------------------------------------------------------- the chart

needs_node = pytest.mark.skipif(not shutil.which("node"), reason="no node to run the scripts")


@needs_node
def test_the_trade_off_front_keeps_the_candidates_nothing_beats():
    script = (
        f"import({json.dumps((ROOT / 'static/js/chart.js').as_uri())}).then((m) => {{"
        "const pts = [{x: 10, y: 50}, {x: 20, y: 40}, {x: 30, y: 70}, {x: 30, y: 60},"
        " {x: 5, y: 30}, {x: 40, y: 70}, {x: 50, y: 90}];"
        "console.log(JSON.stringify({front: m.paretoFront(pts).map((p) => [p.x, p.y]),"
        " ticks: [100, 102, 95.5].map(m.accuracyTick)}));})"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    got = json.loads(out.stdout)
    assert got["front"] == [[5, 30], [10, 50], [30, 70], [50, 90]]
    assert got["ticks"] == ["100", "", "95.5"]


def test_fields_edited_by_hand_win_over_the_effort_card(alice_client, dataset):
    """Without the page's script the card stays as it was; a value typed into an expert field
    still counts."""
    form = full_form(dataset, effort="balanced", epochs=4, max_depth=4)
    assert alice_client.post("/searches/new/", form).status_code == 302
    stored = Search.objects.get().settings
    assert (stored["epochs"], stored["max_depth"]) == (4, 4)


@pytest.mark.parametrize(("edited", "ticked"), [({"max_depth": 5}, None), ({}, "balanced")])
def test_a_form_sent_back_without_an_effort_card_ticks_what_its_fields_match(
    alice_client, dataset, edited, ticked
):
    # no card is ticked once the fields were edited into Custom, so none is sent
    form = full_form(dataset, **edited, val_frac=2) | {"effort": ""}
    r = alice_client.post("/searches/new/", form)
    assert r.status_code == 400  # the error sends the form back
    html = r.content.decode()
    checked = [n for n in PRESETS if f'value="{n}" id="id_effort_{n}" checked' in html]
    assert checked == ([ticked] if ticked else [])
    assert ('id="custom-effort" hidden' in html) == (ticked is not None)
