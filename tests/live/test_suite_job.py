"""The suite job: a real RQ worker derives every suite entry it has a source for."""

import django_rq
import pytest
from rq.worker import SimpleWorker

from searchapp import derive
from searchapp.models import Dataset, SuiteRun
from searchapp.nas.derived import SUITE
from searchapp.storage import dataset_dir
from searchapp.suite import start_suite
from tests.web.derive_fixtures import place_cifar, place_tiny, suite_words


@pytest.fixture
def sources(settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    return tmp_path / "sources"


def _run_default_queue():
    queue = django_rq.get_queue("default")
    worker = SimpleWorker([queue], connection=queue.connection)
    assert worker.work(burst=True)


def test_the_suite_job_derives_cifar_and_skips_a_missing_tiny_imagenet(
    alice, sources, django_capture_on_commit_callbacks
):
    place_cifar(sources)
    with django_capture_on_commit_callbacks(execute=True):
        run = start_suite(alice)
    assert django_rq.get_queue("default").count == 1
    _run_default_queue()

    run.refresh_from_db()
    assert run.status == SuiteRun.Status.FINISHED, run.error
    by_status = {}
    for row in run.log:
        by_status.setdefault(row["status"], []).append(row)
    assert len(by_status["created"]) == 21
    assert len(by_status["skipped"]) == 10
    assert all("tiny-imagenet-200.zip" in r["message"] for r in by_status["skipped"])
    full = Dataset.objects.get(owner=alice, suite="CIFAR-10")
    assert full.num_classes == 10 and full.num_train == 100
    assert Dataset.objects.filter(owner=alice).exclude(suite="").count() == 21

    rows = derive.suite_rows(alice)
    assert len(rows) == len(SUITE) == 31
    assert sum(1 for r in rows if r["dataset"]) == 21
    pair = rows[0]
    assert pair["name"] == "airplane, auto" and pair["dataset"].classes == [
        "airplane",
        "automobile",
    ]
    tiny = next(r for r in rows if r["source"] == "tinyimagenet")
    assert tiny["dataset"] is None and not tiny["source_found"]
    assert (tiny["train"], tiny["test"], tiny["stem"]) == (1000, 100, "imagenet")

    # A second run makes nothing twice; it says which exist.
    with django_capture_on_commit_callbacks(execute=True):
        again = start_suite(alice)
    _run_default_queue()
    again.refresh_from_db()
    assert [r["status"] for r in again.log].count("exists") == 21
    assert Dataset.objects.filter(owner=alice).count() == 21


def test_the_suite_job_makes_all_31_from_both_archives(
    alice, sources, django_capture_on_commit_callbacks
):
    place_cifar(sources)
    place_tiny(sources, suite_words(), n_train=2, n_val=1)
    with django_capture_on_commit_callbacks(execute=True):
        run = start_suite(alice)
    _run_default_queue()
    run.refresh_from_db()
    assert [r["status"] for r in run.log] == ["created"] * 31, run.log
    vehicles = Dataset.objects.get(suite="Tiny-ImageNet vehicles")
    assert vehicles.num_classes == 15 and vehicles.stem == "imagenet"
    assert (vehicles.num_train, vehicles.num_test) == (30, 15)


def test_a_corrupt_cifar_archive_fails_each_cifar_entry_with_its_reason(
    alice, sources, django_capture_on_commit_callbacks
):
    archive = place_cifar(sources)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with django_capture_on_commit_callbacks(execute=True):
        run = start_suite(alice)
    _run_default_queue()
    run.refresh_from_db()
    failed = [r for r in run.log if r["status"] == "failed"]
    assert len(failed) == 21
    assert "truncated" in failed[0]["message"]
    assert not Dataset.objects.exists()
    assert not dataset_dir(1).exists()
