"""The decision rule and the cross-validation folds on the web side: the form, the JSON API and
`manage.py search` take them (and refuse bad values with the reason), the new-search page says
what "auto" chose for the dataset and what it costs, and the search page shows each judged
candidate's evidence and which rule and folds decided."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from searchapp.forms import SearchForm, search_form_from_dict
from searchapp.models import Candidate, Dataset, Search
from searchapp.templatetags import mininas

ROOT = Path(__file__).resolve().parents[2]
ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
EVIDENCE = {"vs": 0, "diff": 2.46, "ci95": [-4.1, 9.0], "n": 400, "method": "Newcombe paired score"}
BAD_FOLDS = ["0", "x", "11", 0, 11, "-1", "2.5"]
FOLDS_REASON = "folds must be auto or a whole number from 1 to 10"


@pytest.fixture
def four_hundred(alice):
    """A dataset row of 400 training images (the counts are all the pages read)."""
    return Dataset.objects.create(
        owner=alice, name="small", classes=["a", "b"], image_size=16, num_train=400, num_test=100
    )


def full_form(dataset, **settings) -> dict:
    """Every field of the new-search form as the browser sends it, with these settings."""
    data = {"dataset": dataset.pk}
    for name, field in SearchForm.base_fields.items():
        if field.initial is not None and name != "dataset" and field.initial is not False:
            data[name] = field.initial
    return data | settings


# ----------------------------------------------------------------------------- the form


def test_the_form_decides_on_evidence_with_auto_folds_by_default(alice, dataset):
    form = search_form_from_dict({"dataset": dataset.pk}, alice)
    assert form.is_valid(), form.errors
    assert (form.config["rule"], form.config["folds"]) == ("evidence", "auto")


@pytest.mark.parametrize(
    "rule, folds, stored",
    [
        ("paper", "1", "1"),
        ("evidence", "5", "5"),
        ("evidence", 10, "10"),
        ("paper", "auto", "auto"),
    ],
)
def test_the_form_takes_each_rule_and_fold_count(alice, dataset, rule, folds, stored):
    form = search_form_from_dict({"dataset": dataset.pk, "rule": rule, "folds": folds}, alice)
    assert form.is_valid(), form.errors
    assert (form.config["rule"], form.config["folds"]) == (rule, stored)


@pytest.mark.parametrize("folds", BAD_FOLDS)
def test_the_form_refuses_bad_folds_with_the_reason(alice, dataset, folds):
    form = search_form_from_dict({"dataset": dataset.pk, "folds": folds}, alice)
    assert not form.is_valid()
    assert list(form.errors) == ["folds"]
    assert FOLDS_REASON in form.errors["folds"][0], form.errors


def test_the_form_refuses_an_unknown_rule_naming_the_rules(alice, dataset):
    form = search_form_from_dict({"dataset": dataset.pk, "rule": "bayes"}, alice)
    assert not form.is_valid()
    assert form.errors["rule"] == ["rule must be one of evidence, paper, got 'bayes'"]


def test_the_page_offers_the_rules_and_folds_in_plain_words(alice_client, dataset):
    html = alice_client.get("/searches/new/").content.decode()
    box = html.split('id="decisions"', 1)[1].split("</fieldset>", 1)[0]
    assert "How decisions are made" in box
    assert 'type="radio" name="rule" value="evidence"' in box and "checked" in box
    assert "Only grow the network when the gain is clear (recommended)" in box
    assert "Paper&#x27;s thresholds (Algorithm 1 as published)" in box
    assert "Auto (recommended)" in box and "Off: one validation split" in box
    assert '<option value="5">5 folds</option>' in box
    # the two are not repeated among the other settings
    assert html.count('name="rule"') == 2 and html.count('name="folds"') == 1


def test_a_link_can_open_the_form_on_the_papers_rule(alice_client, dataset):
    """The suite page's link asks for the paper's settings in the query string."""
    html = alice_client.get(f"/searches/new/?dataset={dataset.pk}&rule=paper&folds=1").content
    html = html.decode()
    assert 'name="rule" value="paper" required id="id_rule_1" checked' in html
    assert '<option value="1" selected>Off: one validation split</option>' in html
    assert "one validation split: 1 training per candidate" in html
    odd = alice_client.get(f"/searches/new/?dataset={dataset.pk}&rule=vote").content.decode()
    assert 'name="rule" value="evidence" required id="id_rule_0" checked' in odd


def test_a_posted_form_with_bad_folds_is_shown_again_with_the_reason(alice_client, dataset):
    r = alice_client.post("/searches/new/", full_form(dataset, folds="11"))
    assert r.status_code == 400
    assert FOLDS_REASON in r.content.decode()
    assert Search.objects.count() == 0


# ----------------------------------------------------------------------------- what auto chose


def test_the_page_says_what_auto_chose_for_400_training_images(alice_client, four_hundred):
    html = alice_client.get(f"/searches/new/?dataset={four_hundred.pk}").content.decode()
    note = html.split('id="folds-note"', 1)[1].split("</p>", 1)[0]
    assert "auto chose 5 folds for 400 training images: 5 trainings per candidate" in note
    cost = html.split('id="cost-text"', 1)[1].split("</span>", 1)[0]
    assert "400 images x 30 epochs" in cost and "x 5 folds" in cost


def estimate(client, dataset, **settings):
    return client.get("/searches/new/estimate/", full_form(dataset, **settings))


def test_the_estimate_follows_the_device_the_folds_and_the_split(alice_client, four_hundred):
    r = estimate(alice_client, four_hundred, device="cuda")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["folds"] == 5
    assert (
        body["folds_note"]
        == "auto chose 5 folds for 400 training images: 5 trainings per candidate"
    )
    assert "x 5 folds" in body["cost"]
    one = estimate(alice_client, four_hundred, folds="1").json()
    assert one["folds_note"] == "one validation split: 1 training per candidate"
    assert "folds" not in one["cost"]
    seven = estimate(alice_client, four_hundred, folds="7").json()
    assert seven["folds_note"] == "7 folds: 7 trainings per candidate"
    on_test = estimate(alice_client, four_hundred, select_on="test").json()
    assert on_test["folds"] == 1 and "chosen on test" in on_test["folds_note"]


def test_the_cost_bound_counts_every_fold(alice_client, four_hundred):
    """K folds: K trainings per candidate, the final training once."""
    pmac = {}
    for folds in ("1", "5"):
        text = estimate(alice_client, four_hundred, folds=folds, final_epochs=0).json()["cost"]
        pmac[folds] = float(text.split(" PMAC", 1)[0].replace(",", ""))
    assert pmac["5"] == pytest.approx(5 * pmac["1"], rel=0.01)


def test_the_estimate_refuses_bad_settings_with_the_reason(alice_client, four_hundred, bob):
    r = estimate(alice_client, four_hundred, folds="x")
    assert r.status_code == 400 and FOLDS_REASON in r.json()["error"]
    theirs = Dataset.objects.create(owner=bob, name="theirs", num_train=10)
    assert estimate(alice_client, theirs).status_code == 400


def test_the_estimate_needs_a_signed_in_user(client, four_hundred):
    r = estimate(client, four_hundred)
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


# ----------------------------------------------------------------------------- API and command


def test_the_api_creates_a_search_with_the_rule_and_folds(alice_client, dataset):
    payload = {"dataset": dataset.pk, "rule": "paper", "folds": 4}
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 201, r.content
    body = r.json()["search"]
    assert (body["settings"]["rule"], body["settings"]["folds"]) == ("paper", "4")
    assert body["decisions"]["rule"] == "paper" and body["decisions"]["k"] == 4
    assert body["decisions"]["text"].startswith("the paper's thresholds")


@pytest.mark.parametrize("folds", BAD_FOLDS)
def test_the_api_refuses_bad_folds_with_the_reason(alice_client, dataset, folds):
    payload = {"dataset": dataset.pk, "folds": folds}
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 400
    assert FOLDS_REASON in r.json()["errors"]["folds"][0]
    assert Search.objects.count() == 0


def test_the_api_refuses_an_unknown_rule(alice_client, dataset):
    payload = {"dataset": dataset.pk, "rule": "vote"}
    r = alice_client.post("/api/searches/", json.dumps(payload), content_type="application/json")
    assert r.status_code == 400
    assert r.json()["errors"]["rule"] == ["rule must be one of evidence, paper, got 'vote'"]


def test_the_command_passes_the_rule_and_folds(dataset, capsys):
    call_command("search", str(dataset.pk), "--rule", "paper", "--folds", "3")
    search = Search.objects.get()
    assert (search.settings["rule"], search.settings["folds"]) == ("paper", "3")
    out = capsys.readouterr().out
    assert "decisions the paper's thresholds (Algorithm 1 as published); 3 folds" in out


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--folds", "0"], FOLDS_REASON),
        (["--folds", "x"], FOLDS_REASON),
        (["--folds", "11"], FOLDS_REASON),
        (["--rule", "vote"], "invalid choice: 'vote'"),
    ],
)
def test_the_command_refuses_bad_values_in_one_line(dataset, args, reason):
    with pytest.raises(CommandError, match=reason) as caught:
        call_command("search", str(dataset.pk), *args)
    assert "\n" not in str(caught.value)
    assert Search.objects.count() == 0


# ----------------------------------------------------------------------------- the search page


@pytest.fixture
def judged(search):
    """A finished search: the first candidate (nothing to compare with), then one judged
    against it with its evidence."""
    search.settings = {**search.settings, "rule": "evidence", "folds": "auto"}
    first = Candidate.objects.create(
        search=search, index=0, phase="depth", arch=ARCH, params=20_000, test_acc=69.0,
        status="ok", accepted=True, reason="depth 3: the first one: accept",
    )  # fmt: skip
    Candidate.objects.create(
        search=search, index=1, phase="depth", arch=ARCH, params=40_000, test_acc=71.0,
        status="ok", accepted=False, reason="depth 4: +2.5 points [-4.1, +9.0]: stop",
        record={"evidence": EVIDENCE, "folds": 3},
    )  # fmt: skip
    search.status, search.best = "finished", first
    search.save()
    return search


def row(html: str, index: int) -> str:
    return html.split(f'<tr data-index="{index}"', 1)[1].split("</tr>", 1)[0]


def test_the_page_shows_a_judged_candidates_evidence(alice_client, judged):
    html = alice_client.get(f"/searches/{judged.pk}/").content.decode()
    judged_row = row(html, 1)
    assert ">+2.5 [-4.1, +9.0] n=400</small>" in judged_row
    tip = "vs #0: +2.5 points, 95% CI [-4.1, +9.0], on 400 images (Newcombe paired score)"
    assert f'title="{tip}"' in judged_row
    first = row(html, 0)  # nothing to compare with: an empty line, the row's height kept
    assert (
        'data-format="evidence" data-title="evidence" data-title-format="evidencetip" title="">'
        in first
    )


def test_the_page_says_the_folds_the_candidates_trained_on(alice_client, judged):
    # the candidates' records hold K = 3: the page says 3 even where auto would now choose
    # another K for this dataset
    assert judged.dataset.num_train <= 1_000  # where auto chooses 5
    html = alice_client.get(f"/searches/{judged.pk}/").content.decode()
    top = html.split('id="search-decisions"', 1)[1].split("</p>", 1)[0]
    assert "auto chose 3 folds" in top and "5 folds" not in top
    Candidate.objects.filter(search=judged).update(record={})
    html = alice_client.get(f"/searches/{judged.pk}/").content.decode()
    top = html.split('id="search-decisions"', 1)[1].split("</p>", 1)[0]
    assert "auto chose 5 folds" in top  # nothing recorded: what the settings resolve to


def test_the_page_and_result_say_which_rule_and_folds_decided(alice_client, judged):
    html = alice_client.get(f"/searches/{judged.pk}/").content.decode()
    n = judged.dataset.num_train
    text = (
        f"only when the gain is clear (evidence rule); auto chose 3 folds for {n} training images"
    )
    top = html.split('id="search-decisions"', 1)[1].split("</p>", 1)[0]
    result = html.split('id="summary-decisions"', 1)[1].split("</dd>", 1)[0]
    assert text in top and text in result


def test_a_search_saved_before_the_rule_existed_reads_as_the_papers(alice_client, judged):
    old = {k: v for k, v in judged.settings.items() if k not in ("rule", "folds")}
    Search.objects.filter(pk=judged.pk).update(settings=old)
    Candidate.objects.filter(search=judged, index=1).update(record={})
    r = alice_client.get(f"/searches/{judged.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    top = html.split('id="search-decisions"', 1)[1].split("</p>", 1)[0]
    assert "the paper&#x27;s thresholds (Algorithm 1 as published); one validation split" in top
    assert "n=" not in row(html, 1)
    api = alice_client.get(f"/api/searches/{judged.pk}/").json()["search"]
    assert [c["evidence"] for c in api["candidates"]] == [None, None]
    assert api["decisions"] == {
        "rule": "paper", "folds": "1", "k": 1, "text": api["decisions"]["text"],
    }  # fmt: skip


def test_the_api_and_the_socket_snapshot_carry_the_evidence(alice_client, judged):
    from searchapp.serializers import snapshot

    api = alice_client.get(f"/api/searches/{judged.pk}/").json()["search"]
    assert [c["evidence"] for c in api["candidates"]] == [None, EVIDENCE]
    snap = snapshot(judged)
    assert [c["evidence"] for c in snap["candidates"]] == [None, EVIDENCE]
    assert snap["candidates"][1]["folds"] == 3


# ----------------------------------------------------------------------------- server = script

EVIDENCE_CASES = [
    None,
    {},
    {"vs": 2},
    EVIDENCE,
    {"vs": 3, "diff": -0.0, "ci95": [-0.04, 0.05], "n": 1600},
    {"vs": 1, "diff": -12.349, "ci95": [-20.25, -4.45], "n": 80, "method": "m"},
    {"diff": 0.5, "ci95": None, "n": None},
]
RUN_JS = """
const [url, cases] = [process.argv[1], JSON.parse(process.argv[2])];
import(url).then((f) => console.log(JSON.stringify(cases.map((c) => [f.evidence(c), f.evidencetip(c)]))));
"""


@pytest.mark.skipif(not shutil.which("node"), reason="no node to run format.js")
def test_the_script_writes_the_evidence_as_the_server_does():
    out = subprocess.run(
        ["node", "-e", RUN_JS, (ROOT / "static/js/format.js").as_uri(), json.dumps(EVIDENCE_CASES)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    in_js = json.loads(out.stdout)
    in_py = [[mininas.evidence(c), mininas.evidencetip(c)] for c in EVIDENCE_CASES]
    assert in_js == in_py
    assert in_py[3] == [
        "+2.5 [-4.1, +9.0] n=400",
        "vs #0: +2.5 points, 95% CI [-4.1, +9.0], on 400 images (Newcombe paired score)",
    ]
    assert in_py[4][0] == "+0.0 [-0.0, +0.1] n=1,600"
    assert in_py[0] == in_py[1] == in_py[2] == ["", ""]
