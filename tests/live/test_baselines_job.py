"""The baselines job: a real RQ worker trains MobileNetV2 and EfficientNet-B0 on tiny data."""

import django_rq
import pytest
from rq.worker import SimpleWorker

from searchapp import baselines
from searchapp.models import BaselineRun, Candidate
from searchapp.serializers import baseline_rows
from searchapp.tasks import baselines as baselines_job


@pytest.fixture
def finished(search):
    best = Candidate.objects.create(
        search=search, index=0, phase="depth", arch={"depth": 3, "width": 8, "stem": "cifar"},
        params=5000, test_acc=90.0, status="ok", accepted=True, device="cpu", seconds=2.0,
    )  # fmt: skip
    search.status, search.best = "finished", best
    search.save()
    return search


def _work():
    queue = django_rq.get_queue("gpu")
    assert SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_a_worker_trains_both_baselines_with_the_searchs_recipe(
    finished, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        runs = baselines.start_baselines(finished)
    assert [r.name for r in runs] == ["mobilenet_v2", "efficientnet_b0"]
    assert django_rq.get_queue("gpu").count == 1
    _work()

    by_name = {r.name: r for r in BaselineRun.objects.filter(search=finished)}
    for name, run in by_name.items():
        assert run.status == "finished", run.error
        m = run.metrics
        assert m["name"] == name and m["epochs"] == 1 and m["seed"] == 0
        assert m["device"] == "cpu" and m["image_size"] == 16 and m["strides"] == "cifar"
        assert m["params"] > 100_000 and 0 <= m["test_acc"] <= 100
        assert m["recipe"]["name"] == "fast"
        assert run.started and run.finished and run.progress == {}
    rows = baseline_rows(finished)
    assert [r["name"] for r in rows] == ["mobilenet_v2", "efficientnet_b0"]
    mnet = rows[0]
    assert mnet["efficiency"] == pytest.approx(by_name["mobilenet_v2"].metrics["params"] / 5000)


def test_baselines_of_an_upscaled_search_see_224_pixels(finished):
    finished.settings = {**finished.settings, "stem": "imagenet"}
    assert baselines_job.input_size(finished) == 224
    finished.settings = {**finished.settings, "stem": None}
    assert baselines_job.input_size(finished) is None  # 16 px data, cifar stem


def test_only_a_finished_search_gets_baselines(search):
    with pytest.raises(baselines.BaselineError, match="finished"):
        baselines.start_baselines(search)


def test_a_second_start_while_queued_is_refused(finished):
    baselines.start_baselines(finished)
    with pytest.raises(baselines.BaselineError, match="already"):
        baselines.start_baselines(finished)


def test_cancel_ends_queued_runs_and_the_job_skips_them(
    finished, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        baselines.start_baselines(finished)
    baselines.cancel_baselines(finished)
    _work()
    assert set(finished.baselines.values_list("status", flat=True)) == {"cancelled"}


def test_a_running_baseline_stops_at_the_flag(finished, monkeypatch):
    monkeypatch.setattr("searchapp.tasks.queue.CANCEL_POLL_SECONDS", 0)
    baselines.start_baselines(finished)
    BaselineRun.objects.filter(search=finished).update(cancel_requested=True)
    out = baselines_job.run_baselines_job(finished.pk)
    assert out == {"mobilenet_v2": "cancelled", "efficientnet_b0": "cancelled"}


def test_a_failing_baseline_is_marked_failed_with_its_reason(finished, monkeypatch):
    import searchapp.nas.baselines as engine

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "train_baseline", broken)
    baselines.start_baselines(finished)
    with pytest.raises(RuntimeError):
        baselines_job.run_baselines_job(finished.pk)
    for run in finished.baselines.all():  # one failing does not leave the other queued
        assert run.status == "failed" and "RuntimeError: boom" in run.error
