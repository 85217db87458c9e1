from searchapp.models import Candidate


def test_staff_can_browse_every_model(client, django_user_model, search):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(admin)
    Candidate.objects.create(search=search, index=0, phase="depth", status="ok")
    for model in ("dataset", "search", "candidate", "upload"):
        assert client.get(f"/admin/searchapp/{model}/").status_code == 200, model
    assert client.get(f"/admin/searchapp/search/{search.pk}/change/").status_code == 200
    assert client.get(f"/admin/searchapp/dataset/{search.dataset_id}/change/").status_code == 200
