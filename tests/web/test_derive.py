"""searchapp/derive.py: derived datasets saved whole or not at all."""

import pytest

from searchapp import derive
from searchapp.models import Dataset
from searchapp.nas.data import DataError, load_npz
from searchapp.storage import media_path
from tests.web.derive_fixtures import place_cifar, place_tiny


@pytest.fixture
def sources(settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    return tmp_path / "sources"


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
