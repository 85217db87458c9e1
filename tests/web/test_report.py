"""searchapp/report.py: the rows of Tables 4 and 6 for a set of finished searches."""

import pytest

from searchapp import report
from searchapp.models import BaselineRun, Candidate, Search


def make_finished(owner, dataset, *, params=10_000, acc=95.0, seconds=(1800.0, 1800.0),
                  device="cpu", baselines=None):  # fmt: skip
    s = Search.objects.create(owner=owner, dataset=dataset, settings={}, status="finished")
    best = None
    for i, sec in enumerate(seconds):
        c = Candidate.objects.create(
            search=s, index=i, phase="depth", params=params, test_acc=acc, seconds=sec,
            device=device, status="ok", accepted=True,
        )  # fmt: skip
        best = c
    s.best = best
    from django.utils import timezone

    s.finished = timezone.now()
    s.save()
    for name, (acc_b, params_b) in (baselines or {}).items():
        BaselineRun.objects.create(
            search=s, name=name, status="finished",
            metrics={"test_acc": acc_b, "params": params_b},
        )  # fmt: skip
    return s


@pytest.fixture
def suite_dataset(dataset):
    dataset.suite = "airplane, auto"
    dataset.save()
    return dataset


def test_a_row_has_ours_the_baselines_and_the_papers_numbers(alice, suite_dataset):
    s = make_finished(
        alice, suite_dataset,
        baselines={"mobilenet_v2": (96.0, 2_200_000), "efficientnet_b0": (94.5, 4_000_000)},
    )  # fmt: skip
    [row] = report.report_rows(report.select_searches(alice))
    assert row["search_id"] == s.pk and row["suite"] == "airplane, auto"
    assert (row["enet_acc"], row["mnet_acc"], row["ours_acc"]) == (94.5, 96.0, 95.0)
    assert row["gain"] == -1.0  # ours minus the better baseline
    assert row["ours_params_m"] == 0.01 and row["mnet_params_m"] == 2.2
    assert (row["eff_mnet"], row["eff_enet"]) == (220.0, 400.0)
    assert row["cost_hours"] == 1.0 and row["cost_device"] == "CPU" and row["candidates"] == 2
    assert (row["paper_enet"], row["paper_mnet"], row["paper_ours"]) == (99.25, 99.3, 99.45)
    assert (row["paper_params_m"], row["paper_eff"], row["paper_gain"]) == (0.74, 3.1, 0.15)
    assert report.cost_unit([row]) == "CPU-hours"


def test_without_baselines_their_columns_are_empty(alice, dataset):
    make_finished(alice, dataset, device="cuda:0")
    [row] = report.report_rows(report.select_searches(alice))
    assert row["enet_acc"] is None and row["gain"] is None and row["eff_mnet"] is None
    assert row["paper_ours"] is None  # not a suite dataset
    assert row["cost_device"] == "GPU"


def test_the_latest_finished_search_per_dataset_is_chosen(alice, bob, dataset, suite_dataset):
    make_finished(alice, dataset, acc=80.0)
    newer = make_finished(alice, dataset, acc=85.0)
    Search.objects.create(owner=alice, dataset=dataset, settings={}, status="running")
    assert [s.pk for s in report.select_searches(alice)] == [newer.pk]
    assert report.select_searches(bob) == []


def test_the_suite_filter_and_explicit_ids(alice, dataset):
    from searchapp.storage import create_dataset_from_imagedata
    from tests.builders import make_imagedata

    other = create_dataset_from_imagedata(alice, "other", make_imagedata(), source="generated")
    other.suite = "CIFAR-10"
    other.save()
    a = make_finished(alice, dataset)
    b = make_finished(alice, other)
    assert [s.pk for s in report.select_searches(alice, suite_only=True)] == [b.pk]
    assert [s.pk for s in report.select_searches(alice, ids=[a.pk])] == [a.pk]
    rows = report.report_rows(report.select_searches(alice))
    assert rows[0]["suite"] == "CIFAR-10"  # suite entries first, in the paper's order
    assert rows[0]["paper_gpu_hours"] == 58 and rows[0]["paper_candidates"] == 39


def test_csv_and_json_carry_every_column(alice, suite_dataset):
    make_finished(alice, suite_dataset)
    rows = report.report_rows(report.select_searches(alice))
    lines = report.to_csv(rows).splitlines()
    assert lines[0].split(",") == [k for k, _ in report.COLUMNS]
    assert "paper_ours" in lines[0] and "99.45" in lines[1]
    data = report.to_json(rows)
    assert data["rows"][0]["paper_eff"] == 3.1 and data["cost_unit"] == "CPU-hours"
    assert data["summary"]["datasets"] == 1 and data["notes"]


# ----------------------------------------------------------------------------- the selection split


def _chosen_on(search, split):
    search.settings = {**search.settings, "select_on": split}
    search.save()
    return search


@pytest.fixture
def own_dataset(alice):
    """A dataset of alice's that is no suite entry (``dataset`` is the suite one here)."""
    from searchapp.storage import create_dataset_from_imagedata
    from tests.builders import make_imagedata

    return create_dataset_from_imagedata(alice, "own", make_imagedata(), source="generated")


def test_a_row_says_which_split_chose_the_architecture(alice, own_dataset, suite_dataset):
    _chosen_on(make_finished(alice, own_dataset), "validation")
    make_finished(alice, suite_dataset)  # settings without select_on: from before the setting
    rows = {r["suite"]: r for r in report.report_rows(report.select_searches(alice))}
    assert rows[""]["selection_split"] == "validation"
    assert rows[""]["split_text"] == "chosen on validation"
    assert rows["airplane, auto"]["selection_split"] == "test"
    assert rows["airplane, auto"]["split_text"] == "chosen on test, as the paper does"
    summary = report.summary(list(rows.values()))
    assert (summary["chosen_on_test"], summary["chosen_on_validation"]) == (1, 1)


def test_a_suite_row_takes_the_latest_search_chosen_on_test_as_the_paper_does(
    alice, own_dataset, suite_dataset
):
    on_test = _chosen_on(make_finished(alice, suite_dataset, acc=99.0), "test")
    _chosen_on(make_finished(alice, suite_dataset, acc=90.0), "validation")  # later
    older_mine = _chosen_on(make_finished(alice, own_dataset, acc=80.0), "test")
    newer_mine = _chosen_on(make_finished(alice, own_dataset, acc=70.0), "validation")
    chosen = {s.pk for s in report.select_searches(alice)}
    # the paper's dataset: comparable with Table 4; an own dataset: simply the latest
    assert chosen == {on_test.pk, newer_mine.pk} and older_mine.pk not in chosen
    assert {s.pk for s in report.select_searches(alice, suite_only=True)} == {on_test.pk}


def test_a_suite_row_chosen_on_validation_when_no_search_chose_on_test(alice, suite_dataset):
    only = _chosen_on(make_finished(alice, suite_dataset), "validation")
    [row] = report.report_rows(report.select_searches(alice, suite_only=True))
    assert row["search_id"] == only.pk and row["split_text"] == "chosen on validation"


def test_the_report_page_csv_and_json_state_the_split(
    alice, alice_client, own_dataset, suite_dataset
):
    _chosen_on(make_finished(alice, own_dataset), "validation")
    _chosen_on(make_finished(alice, suite_dataset), "test")
    html = alice_client.get("/report/").content.decode()
    assert "Architecture chosen on" in html
    assert (
        '<td class="split split-validation" data-split="validation">chosen on validation</td>'
        in (html)
    )
    assert 'data-split="test">chosen on test, as the paper does</td>' in html
    assert "1 on test, 1 on validation" in html
    assert "1 of 2 architectures chosen on validation" in html  # the note under the table
    assert "the paper chooses each architecture by its test accuracy" in html
    import csv

    table = list(csv.DictReader(alice_client.get("/report/csv/").content.decode().splitlines()))
    assert {r["selection_split"] for r in table} == {"test", "validation"}
    data = alice_client.get("/report/json/").json()
    assert {r["selection_split"] for r in data["rows"]} == {"test", "validation"}
    assert data["summary"]["chosen_on_validation"] == 1


def test_a_report_of_only_test_chosen_rows_has_no_warning(alice, alice_client, suite_dataset):
    s = _chosen_on(make_finished(alice, suite_dataset), "test")
    s.final = {"test_acc": 96.5, "test_ci95": [91.0, 98.5], "epochs": 90, "recipe": "fast"}
    s.save()
    [row] = report.report_rows(report.select_searches(alice))
    assert (row["ours_acc"], row["final_acc"]) == (95.0, 96.5)  # search-time, then the final
    html = alice_client.get("/report/?suite=1").content.decode()
    assert "final 96.5</small>" in html
    assert "chosen on test, as the paper does" in html
    assert "chosen on validation</strong>" not in html


@pytest.mark.parametrize(
    ("split", "shown"),
    [
        ("validation", "validation split (carved from the training images)"),
        ("test", "test split (as the paper does)"),
    ],
)
def test_the_search_page_says_which_split_chose_the_architecture(
    alice, alice_client, dataset, split, shown
):
    s = _chosen_on(make_finished(alice, dataset), split)
    html = alice_client.get(f"/searches/{s.pk}/").content.decode()
    assert "<dt>Chosen on</dt>" in html
    assert f'data-field="selection_split" data-format="split">{shown}</dd>' in html
    data = alice_client.get(f"/api/searches/{s.pk}/").json()["search"]
    assert data["selection_split"] == split  # what the page's socket and the API say


def test_the_search_page_shows_the_cost_bound_with_the_final_training(alice, alice_client, dataset):
    s = make_finished(alice, dataset)
    s.settings = {"epochs": 2, "final_epochs": 5}
    s.save()
    html = alice_client.get(f"/searches/{s.pk}/").content.decode()
    assert '<dt>Cost bound (before it started)</dt><dd id="summary-cost"' in html
    assert "x 2 epochs x" in html and "then a final training of 5 epochs)</dd>" in html
    s.settings = {"epochs": 2, "final_epochs": 0}  # skipped: nothing more to count
    s.save()
    html = alice_client.get(f"/searches/{s.pk}/").content.decode()
    assert "x 2 epochs x" in html and "final training of" not in html
    s.settings = {"max_depth": 9999}  # from a version with other limits: no bound, no error
    s.save()
    r = alice_client.get(f"/searches/{s.pk}/")
    assert r.status_code == 200 and 'id="summary-cost"' not in r.content.decode()
