import pytest
from django.core.management import CommandError, call_command

from searchapp.models import Dataset, Search
from tests.builders import make_image_folder, make_zip


def test_import_dataset_packs_a_folder(alice, tmp_path, capsys):
    folder = make_image_folder(tmp_path / "pets", per_class=10)
    call_command("import_dataset", str(folder), "--name", "pets", "--owner", "alice")
    ds = Dataset.objects.get()
    assert ds.owner == alice and ds.name == "pets"
    assert ds.num_train + ds.num_test == 20
    assert f"dataset {ds.pk}" in capsys.readouterr().out


def test_import_dataset_reads_a_zip(alice, tmp_path):
    folder = make_image_folder(tmp_path / "pets", per_class=10)
    archive = make_zip(folder, tmp_path / "pets.zip")
    call_command("import_dataset", str(archive), "--name", "zipped", "--owner", "alice")
    assert Dataset.objects.get().name == "zipped"


def test_import_dataset_stores_at_the_working_resolution_asked_for(alice, tmp_path, settings):
    folder = make_image_folder(tmp_path / "pets", per_class=3, size=96)
    call_command("import_dataset", str(folder), "--name", "a", "--owner", "alice")
    call_command(
        "import_dataset", str(folder), "--name", "b", "--owner", "alice", "--max-side", "128"
    )
    assert [d.image_size for d in Dataset.objects.order_by("pk")] == [64, 96]
    with pytest.raises(CommandError, match="8 to 512 px, got 1024"):
        call_command(
            "import_dataset", str(folder), "--name", "c", "--owner", "alice", "--max-side", "1024"
        )
    settings.USER_STORAGE_QUOTA_BYTES = 1000
    with pytest.raises(CommandError, match="storage quota"):
        call_command("import_dataset", str(folder), "--name", "d", "--owner", "alice")


def test_import_dataset_names_a_bad_path(alice, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_dataset", str(tmp_path / "nope"), "--name", "x", "--owner", "alice")


def test_import_dataset_needs_a_known_owner(alice, tmp_path):
    with pytest.raises(CommandError, match="no user"):
        call_command("import_dataset", str(tmp_path), "--name", "x", "--owner", "zed")


def test_import_dataset_defaults_to_the_only_superuser(django_user_model, tmp_path):
    admin = django_user_model.objects.create_superuser("admin", "a@example.org", "pw")
    folder = make_image_folder(tmp_path / "pets", per_class=6)
    call_command("import_dataset", str(folder), "--name", "pets")
    assert Dataset.objects.get().owner == admin


@pytest.mark.live
def test_search_queues_a_search(dataset, django_capture_on_commit_callbacks, capsys):
    import django_rq

    with django_capture_on_commit_callbacks(execute=True):
        call_command("search", str(dataset.pk), "--epochs", "2", "--max-depth", "5")
    search = Search.objects.get()
    assert search.settings["epochs"] == 2 and search.settings["max_depth"] == 5
    assert django_rq.get_queue("gpu").fetch_job(search.rq_job_id) is not None
    assert "queued" in capsys.readouterr().out


@pytest.mark.live
def test_search_runs_in_process_with_sync(dataset, capsys):
    call_command(
        "search",
        str(dataset.pk),
        "--sync",
        "--epochs",
        "1",
        "--min-depth",
        "3",
        "--max-depth",
        "3",
        "--min-width",
        "8",
        "--max-width",
        "16",
        "--width-step",
        "8",
        "--ops",
        "sep",
        "--kernels",
        "3",
        "--device",
        "cpu",
    )
    search = Search.objects.get()
    assert search.status == "finished"
    assert search.candidates.count() == 2  # L3 C16, then L3 C8
    assert "finished" in capsys.readouterr().out


def test_search_rejects_impossible_settings(dataset):
    with pytest.raises(CommandError, match="max_depth"):
        call_command("search", str(dataset.pk), "--min-depth", "9", "--max-depth", "4")
    assert Search.objects.count() == 0


def test_search_names_an_unknown_dataset(db):
    with pytest.raises(CommandError, match="no dataset 42"):
        call_command("search", "42")


def test_seed_demo_makes_the_settings_demo_user_and_the_digits_once(db, settings, capsys):
    from django.contrib.auth import get_user_model

    settings.DEMO_USER, settings.DEMO_PASSWORD = "dora", "dora-demo-password"
    call_command("seed_demo")
    call_command("seed_demo")
    user = get_user_model().objects.get(username="dora")
    assert user.check_password("dora-demo-password")
    assert Dataset.objects.get(owner=user).num_classes == 10
    assert capsys.readouterr().out.count("user 'dora' created") == 1
