import re

from searchapp.models import Dataset


def test_it_redirects_anonymous_users_to_sign_in(client, db):
    r = client.get("/datasets/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_home_sends_a_signed_in_user_to_the_start_page(alice_client, search):
    assert alice_client.get("/")["Location"] == "/start/"


def test_the_upload_page_has_the_folder_and_zip_inputs(alice_client):
    html = alice_client.get("/datasets/new/").content.decode()
    assert 'id="folder-input"' in html and "webkitdirectory" in html
    for dom_id in ("zip-input", "upload-button", "upload-progress", "upload-status", "id_name"):
        assert f'id="{dom_id}"' in html
    assert "js/upload.js" in html


def test_it_lists_only_my_datasets(alice_client, dataset, bob):
    Dataset.objects.create(owner=bob, name="bobs-secret")
    html = alice_client.get("/datasets/").content.decode()
    assert "pets" in html
    assert "bobs-secret" not in html


def test_the_dataset_page_shows_classes_counts_and_samples(alice_client, dataset):
    r = alice_client.get(f"/datasets/{dataset.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="dataset-classes"' in html and 'id="dataset-counts"' in html
    assert f'href="/searches/new/?dataset={dataset.pk}"' in html and 'id="start-search"' in html
    assert "cat" in html and "dog" in html
    thumbs = re.findall(r'src="(/datasets/\d+/thumbs/\d+_\d+\.png)"', html)
    assert len(thumbs) == 16  # 8 per class
    img = alice_client.get(thumbs[0])
    assert img.status_code == 200
    assert img["Content-Type"] == "image/png"
    assert b"".join(img.streaming_content).startswith(b"\x89PNG")


def test_it_404s_for_a_missing_thumbnail(alice_client, dataset):
    assert alice_client.get(f"/datasets/{dataset.pk}/thumbs/0_99.png").status_code == 404


def test_the_dataset_page_lists_rejected_files(alice_client, dataset):
    dataset.rejected = [["cat/bad.png", "not an image"]]
    dataset.save()
    html = alice_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "cat/bad.png" in html and "not an image" in html
