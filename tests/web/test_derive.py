"""searchapp/derive.py: derived datasets saved whole or not at all, and the suite job."""

import django_rq
import pytest
from rq.worker import SimpleWorker

from searchapp import derive
from searchapp.models import Dataset, SuiteRun
from searchapp.nas.data import DataError, load_npz
from searchapp.nas.derived import SUITE
from searchapp.storage import dataset_dir, media_path
from tests.derive_fixtures import place_cifar, place_tiny, suite_words


@pytest.fixture
def sources(settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "default": settings.RQ_QUEUES["gpu"]}
    return tmp_path / "sources"


def _run_default_queue():
    queue = django_rq.get_queue("default")
    worker = SimpleWorker([queue], connection=queue.connection)
    assert worker.work(burst=True)


def test_it_derives_a_cifar_dataset_with_its_provenance(alice, sources):
    place_cifar(sources)
    ds = derive.create_derived_dataset(
        alice, "cifar10", ["airplane", "auto"], derive.resolve_source("cifar10")
    )
    assert ds.name == "CIFAR-10: airplane, automobile"
    assert ds.classes == ["airplane", "automobile"]
    assert (ds.num_train, ds.num_test, ds.image_size) == (20, 4, 32)
    assert ds.derived == {"kind": "cifar10", "classes": ["airplane", "auto"]}
    assert ds.stem == ""
    assert ds.suite == "airplane, auto"  # the classes of a suite entry: it is that entry
    data = load_npz(media_path(ds.npz_path))
    assert data.x_train.shape == (20, 32, 32, 3)


def test_only_the_first_match_of_a_suite_entry_becomes_it(alice, bob, sources):
    place_cifar(sources)
    place_tiny(sources)
    source = derive.resolve_source("cifar10")
    first = derive.create_derived_dataset(alice, "cifar10", ["horse", "frog"], source)
    again = derive.create_derived_dataset(alice, "cifar10", ["frog", "horse"], source)
    bobs = derive.create_derived_dataset(bob, "cifar10", ["frog", "horse"], source)
    three = derive.create_derived_dataset(alice, "cifar10", ["frog", "horse", "cat"], source)
    assert (first.suite, again.suite, bobs.suite, three.suite) == (
        "frog, horse", "", "frog, horse", "",
    )  # fmt: skip
    tiny = derive.resolve_source("tinyimagenet")
    balls = derive.create_derived_dataset(alice, "tinyimagenet", ["n02802426", "volleyball"], tiny)
    assert balls.suite == "volleyball, basketball"
    flat = derive.create_derived_dataset(
        bob, "tinyimagenet", ["volleyball", "basketball"], tiny, upscale=False
    )
    assert flat.suite == ""  # not the paper's setting


def test_tiny_imagenet_defaults_to_the_upscaling_stem(alice, sources):
    place_tiny(sources)
    source = derive.resolve_source("tinyimagenet")
    ds = derive.create_derived_dataset(alice, "tinyimagenet", ["volleyball", "basketball"], source)
    assert ds.stem == "imagenet" and ds.image_size == 64  # stored at its native size
    assert (ds.num_train, ds.num_test) == (6, 2)
    flat = derive.create_derived_dataset(
        alice, "tinyimagenet", ["volleyball", "basketball"], source, upscale=False, name="flat"
    )
    assert flat.stem == "" and flat.name == "flat"


def test_a_missing_archive_names_the_file_and_the_folder(alice, sources):
    with pytest.raises(DataError, match="cifar-10-python.tar.gz") as exc:
        derive.resolve_source("cifar10")
    assert str(sources) in str(exc.value)
    status = {s["kind"]: s for s in derive.source_status()}
    assert not status["cifar10"]["found"]
    assert "tiny-imagenet-200.zip" in status["tinyimagenet"]["message"]


def test_a_bad_class_leaves_nothing_behind(alice, sources):
    place_cifar(sources)
    with pytest.raises(DataError, match="unknown CIFAR-10 class 'plane'"):
        derive.create_derived_dataset(
            alice, "cifar10", ["plane", "bird"], derive.resolve_source("cifar10")
        )
    assert not Dataset.objects.exists()
    assert not (media_path("datasets")).exists() or not any(media_path("datasets").iterdir())


def test_the_suite_job_derives_cifar_and_skips_a_missing_tiny_imagenet(
    alice, sources, django_capture_on_commit_callbacks
):
    place_cifar(sources)
    with django_capture_on_commit_callbacks(execute=True):
        run = derive.start_suite(alice)
    assert django_rq.get_queue("default").count == 1
    _run_default_queue()

    run.refresh_from_db()
    assert run.status == SuiteRun.FINISHED, run.error
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
        again = derive.start_suite(alice)
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
        run = derive.start_suite(alice)
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
        run = derive.start_suite(alice)
    _run_default_queue()
    run.refresh_from_db()
    failed = [r for r in run.log if r["status"] == "failed"]
    assert len(failed) == 21
    assert "truncated" in failed[0]["message"]
    assert not Dataset.objects.exists()
    assert not dataset_dir(1).exists()
