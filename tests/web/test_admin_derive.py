from searchapp.models import BaselineRun, SuiteRun


def test_staff_can_browse_baseline_and_suite_runs(client, django_user_model, search):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(admin)
    run = BaselineRun.objects.create(search=search, name="mobilenet_v2")
    suite = SuiteRun.objects.create(owner=admin)
    for model in ("baselinerun", "suiterun"):
        assert client.get(f"/admin/searchapp/{model}/").status_code == 200, model
    assert client.get(f"/admin/searchapp/baselinerun/{run.pk}/change/").status_code == 200
    assert client.get(f"/admin/searchapp/suiterun/{suite.pk}/change/").status_code == 200
