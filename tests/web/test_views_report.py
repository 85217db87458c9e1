"""The report page and its CSV / JSON exports."""

import csv
import io

import pytest

from tests.web.test_report import make_finished


@pytest.fixture
def finished(alice, dataset):
    dataset.suite = "CIFAR-10"
    dataset.save()
    return make_finished(
        alice, dataset, baselines={"mobilenet_v2": (90.0, 2_200_000)}, seconds=(7200.0,)
    )


def test_the_page_has_ours_and_the_papers_columns_and_a_chart(alice_client, finished):
    r = alice_client.get("/report/")
    html = r.content.decode()
    assert r.status_code == 200
    assert f'data-search="{finished.pk}"' in html
    assert "94.73" in html and "1.44" in html and "1.6×" in html  # paper's CIFAR-10 row
    assert "220.0×" in html  # M-Net / ours
    assert "Search cost (CPU-hours)" in html and "2.000" in html
    assert 'id="cost-chart"' in html and "js/report.js" in html
    assert "300 epochs" in html and "V100" in html  # the honest note
    assert 'id="report-json" href="/report/json/"' in html


def test_an_empty_report_says_what_to_do(alice_client):
    html = alice_client.get("/report/").content.decode()
    assert 'id="report-empty"' in html


def test_csv_export(alice_client, finished):
    r = alice_client.get("/report/csv/?suite=1")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert len(rows) == 1
    assert rows[0]["mnet_acc"] == "90.0" and rows[0]["paper_mnet"] == "94.45"
    assert rows[0]["cost_hours"] == "2.0" and rows[0]["candidates"] == "1"


def test_json_export_and_filters(alice_client, finished):
    data = alice_client.get("/report/json/").json()
    assert data["rows"][0]["search_id"] == finished.pk
    assert data["rows"][0]["paper_gpu_hours"] == 58
    assert {c["key"] for c in data["columns"]} >= {"enet_acc", "paper_enet", "eff_mnet"}
    assert alice_client.get(f"/report/json/?search={finished.pk}").json()["rows"]
    assert alice_client.get("/report/json/?search=999999").json()["rows"] == []


def test_another_users_searches_are_not_reported(bob_client, finished):
    assert bob_client.get("/report/json/").json()["rows"] == []
    assert bob_client.get(f"/report/json/?search={finished.pk}").json()["rows"] == []
    assert "Mini-NAS" not in bob_client.get("/report/csv/").content.decode().split("\n", 1)[1]


def test_anonymous_users_are_sent_to_sign_in(client):
    for url in ("/report/", "/report/csv/", "/report/json/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), url
