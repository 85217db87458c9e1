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
