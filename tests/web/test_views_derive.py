"""The "Derive dataset" page: happy paths, and every bad input as a form error with nothing made."""

import pytest

from searchapp.models import Dataset
from searchapp.storage import media_path
from tests.web.derive_fixtures import place_cifar, place_tiny


@pytest.fixture
def sources(settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    return tmp_path / "sources"


def _nothing_made():
    datasets = media_path("datasets")
    return not Dataset.objects.exists() and (not datasets.exists() or not any(datasets.iterdir()))


def test_the_page_lists_classes_and_says_what_to_place_where(staff_client, sources):
    r = staff_client.get("/datasets/derive/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'value="airplane"' in html and 'value="truck"' in html
    assert "cifar-10-python.tar.gz" in html and "tiny-imagenet-200.zip" in html
    assert str(sources) in html and "md5" in html  # staff: the folder and the checksums


def test_a_user_sees_which_archive_is_missing_without_the_servers_paths(alice_client, sources):
    html = alice_client.get("/datasets/derive/").content.decode()
    assert "cifar-10-python.tar.gz" in html and "tiny-imagenet-200.zip" in html
    assert str(sources) not in html and "md5" not in html
    assert 'id="sources-missing"' in html and "An administrator adds one" in html
    assert '<fieldset class="plain" disabled>' in html  # nothing to derive from: no form


def test_the_form_is_enabled_once_an_archive_is_there(alice_client, sources):
    archive = place_cifar(sources)
    html = alice_client.get("/datasets/derive/").content.decode()
    assert '<fieldset class="plain">' in html and 'id="sources-missing"' not in html
    assert 'CIFAR-10: <strong class="ok">found</strong>' in html
    assert str(archive) not in html and str(sources) not in html


def test_the_page_lists_the_archives_found_and_tiny_imagenet_classes(staff_client, sources):
    place_cifar(sources)
    place_tiny(sources)
    html = staff_client.get("/datasets/derive/").content.decode()
    assert "cifar-10-python.tar.gz" in html and "found" in html
    assert 'id="tiny-class-list"' in html and "n04540053" in html and "volleyball" in html


def test_the_source_first_offered_is_one_that_is_there(alice_client, sources):
    place_tiny(sources)
    html = alice_client.get("/datasets/derive/").content.decode()
    assert '<option value="tinyimagenet" selected>' in html


def test_it_derives_cifar_classes(alice_client, alice, sources):
    place_cifar(sources)
    r = alice_client.post(
        "/datasets/derive/", {"kind": "cifar10", "cifar_classes": ["truck", "airplane"]}
    )
    ds = Dataset.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/datasets/{ds.pk}/"
    assert ds.owner == alice
    assert ds.classes == ["airplane", "truck"]  # CIFAR-10's order
    assert (ds.num_train, ds.num_test) == (20, 4)
    assert ds.stem == ""
    page = alice_client.get(r["Location"]).content.decode()
    assert "Derived CIFAR-10: airplane, truck" in page


def test_it_derives_tiny_imagenet_by_word_or_wnid_and_upscales(alice_client, sources):
    place_tiny(sources)
    r = alice_client.post(
        "/datasets/derive/",
        {"kind": "tinyimagenet", "tiny_classes": "volleyball, n02802426", "name": "balls"},
    )
    assert r.status_code == 302
    ds = Dataset.objects.get()
    assert ds.name == "balls" and ds.classes == ["volleyball", "basketball"]
    assert ds.stem == "imagenet" and ds.image_size == 64
    page = alice_client.get(r["Location"]).content.decode()
    assert "224×224 with the imagenet stem" in page
    assert "paper suite</a>: volleyball, basketball" in page


def test_a_search_on_an_upscaled_dataset_defaults_to_the_imagenet_stem(alice_client, sources):
    from tests.web.test_views_searches import _form

    place_tiny(sources)
    alice_client.post(
        "/datasets/derive/", {"kind": "tinyimagenet", "tiny_classes": "volleyball, basketball"}
    )
    ds = Dataset.objects.get()
    r = alice_client.post("/searches/new/", _form(ds, device="cpu"))
    assert r.status_code == 302
    assert ds.searches.get().settings["stem"] == "imagenet"
    r = alice_client.post("/searches/new/", _form(ds, device="cpu", stem="cifar"))
    assert ds.searches.order_by("-id").first().settings["stem"] == "cifar"  # a choice wins


def test_upscale_can_be_turned_off(alice_client, sources):
    place_tiny(sources)
    alice_client.post(
        "/datasets/derive/",
        {"kind": "tinyimagenet", "tiny_classes": "volleyball, basketball", "upscale": "no"},
    )
    assert Dataset.objects.get().stem == ""


@pytest.mark.parametrize(
    "post, field, message",
    [
        ({"kind": "cifar10", "cifar_classes": ["cat"]}, "cifar_classes", "at least two"),
        ({"kind": "cifar10"}, "cifar_classes", "at least two"),
        ({"kind": "tinyimagenet", "tiny_classes": "volleyball"}, "tiny_classes", "at least two"),
        ({"kind": "cifar10", "cifar_classes": ["cat", "lion"]}, "cifar_classes", "Select a valid"),
        ({"kind": "mnist"}, "kind", "Select a valid"),
    ],
)
def test_bad_class_lists_are_form_errors(alice_client, sources, post, field, message):
    place_cifar(sources)
    place_tiny(sources)
    r = alice_client.post("/datasets/derive/", post)
    assert r.status_code == 400
    assert message in str(r.context["form"].errors[field])
    assert _nothing_made()


def test_an_unknown_tiny_imagenet_class_is_named(alice_client, sources):
    place_tiny(sources)
    r = alice_client.post(
        "/datasets/derive/", {"kind": "tinyimagenet", "tiny_classes": "volleybal, basketball"}
    )
    assert r.status_code == 400
    errors = str(r.context["form"].errors["tiny_classes"])
    assert "unknown Tiny-ImageNet class" in errors and "volleyball" in errors  # a close match
    assert _nothing_made()


def test_a_class_given_twice_is_named(alice_client, sources):
    place_tiny(sources)
    r = alice_client.post(
        "/datasets/derive/", {"kind": "tinyimagenet", "tiny_classes": "volleyball, n04540053"}
    )
    assert r.status_code == 400
    assert "listed twice" in str(r.context["form"].errors["tiny_classes"])


def test_a_missing_archive_says_which_file_to_place_where(staff_client, sources):
    r = staff_client.post("/datasets/derive/", {"kind": "cifar10", "cifar_classes": ["cat", "dog"]})
    assert r.status_code == 400
    errors = " ".join(r.context["form"].non_field_errors())
    assert "cifar-10-python.tar.gz" in errors and str(sources) in errors
    assert _nothing_made()


def test_a_missing_archive_is_named_to_a_user_without_the_servers_path(alice_client, sources):
    r = alice_client.post("/datasets/derive/", {"kind": "cifar10", "cifar_classes": ["cat", "dog"]})
    assert r.status_code == 400
    errors = " ".join(r.context["form"].non_field_errors())
    assert "The CIFAR-10 archive is missing on the server" in errors
    assert str(sources) not in r.content.decode() and "md5" not in r.content.decode()
    assert _nothing_made()


def test_a_truncated_archive_is_reported_and_nothing_is_half_made(staff_client, sources):
    archive = place_cifar(sources)
    archive.write_bytes(archive.read_bytes()[:3000])
    r = staff_client.post("/datasets/derive/", {"kind": "cifar10", "cifar_classes": ["cat", "dog"]})
    assert r.status_code == 400
    assert "truncated" in " ".join(r.context["form"].non_field_errors())
    assert _nothing_made()


def test_a_truncated_tiny_zip_is_reported(staff_client, sources):
    archive = place_tiny(sources)
    archive.write_bytes(archive.read_bytes()[:-200])
    r = staff_client.post(
        "/datasets/derive/", {"kind": "tinyimagenet", "tiny_classes": "volleyball, basketball"}
    )
    assert r.status_code == 400
    assert "zip" in " ".join(r.context["form"].non_field_errors())
    assert _nothing_made()


def test_it_is_for_signed_in_users(client, sources):
    r = client.get("/datasets/derive/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert client.post("/datasets/derive/", {"kind": "cifar10"}).status_code == 302
