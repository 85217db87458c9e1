"""python manage.py derive_dataset cifar10|tinyimagenet --classes a,b --source PATH"""

import pytest
from django.core.management import CommandError, call_command

from searchapp.models import Dataset
from tests.web.derive_fixtures import place_cifar, place_tiny


def test_it_derives_from_a_given_archive(alice, tmp_path, capsys):
    archive = place_cifar(tmp_path / "anywhere")
    call_command(
        "derive_dataset", "cifar10", "--classes", "airplane,auto", "--source", str(archive),
        "--owner", "alice",
    )  # fmt: skip
    ds = Dataset.objects.get()
    assert ds.owner == alice and ds.classes == ["airplane", "automobile"]
    assert (ds.num_train, ds.num_test) == (20, 4)
    assert ds.derived["kind"] == "cifar10"
    assert f"dataset {ds.pk} 'CIFAR-10: airplane, automobile'" in capsys.readouterr().out


def test_it_takes_a_folder_a_name_and_upscale(alice, tmp_path, capsys):
    place_tiny(tmp_path / "src")
    call_command(
        "derive_dataset", "tinyimagenet", "--classes", "volleyball,basketball",
        "--source", str(tmp_path / "src"), "--name", "balls", "--owner", "alice",
    )  # fmt: skip
    ds = Dataset.objects.get()
    assert ds.name == "balls" and ds.stem == "imagenet"
    assert "imagenet stem" in capsys.readouterr().out


def test_it_defaults_to_the_servers_sources_folder(alice, settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    place_cifar(tmp_path / "sources")
    call_command("derive_dataset", "cifar10", "--classes", "cat,dog", "--owner", "alice")
    assert Dataset.objects.get().classes == ["cat", "dog"]


@pytest.mark.parametrize(
    "classes, message",
    [("cat", "at least two"), ("cat,lion", "unknown CIFAR-10 class 'lion'"), ("cat,cat", "twice")],
)
def test_bad_classes_are_one_clear_error(alice, tmp_path, classes, message):
    archive = place_cifar(tmp_path)
    with pytest.raises(CommandError, match=message):
        call_command(
            "derive_dataset", "cifar10", "--classes", classes, "--source", str(archive),
            "--owner", "alice",
        )  # fmt: skip
    assert not Dataset.objects.exists()


def test_a_missing_source_names_the_file(alice, tmp_path):
    with pytest.raises(CommandError, match="tiny-imagenet-200.zip"):
        call_command(
            "derive_dataset", "tinyimagenet", "--classes", "a,b", "--source",
            str(tmp_path / "nope"), "--owner", "alice",
        )  # fmt: skip
