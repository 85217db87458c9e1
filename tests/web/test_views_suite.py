"""The suite page and its "Create the paper's suite" action."""

import django_rq
import pytest
from rq.worker import SimpleWorker

from searchapp.models import Dataset, Search, SuiteRun
from tests.web.derive_fixtures import place_cifar


@pytest.fixture
def sources(settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    return tmp_path / "sources"


def test_the_page_lists_the_31_datasets_with_their_statistics(alice_client, sources):
    r = alice_client.get("/suite/")
    html = r.content.decode()
    assert r.status_code == 200
    assert html.count("<tr data-suite=") == 31
    assert "0 of 31 datasets created" in html
    assert "Tiny-ImageNet vehicles" in html and "7,500" in html  # 15 x 500 train
    assert "10,000" in html and "2,000" in html  # a CIFAR-10 pair
    assert "cifar-10-python.tar.gz" in html  # what to place where


@pytest.mark.live
def test_creating_the_suite_skips_a_missing_source_and_reports_it(
    alice_client, alice, sources, django_capture_on_commit_callbacks
):
    place_cifar(sources)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post("/suite/create/")
    assert r.status_code == 302 and r["Location"] == "/suite/"
    page = alice_client.get("/suite/").content.decode()
    assert "Tiny-ImageNet datasets are skipped" in page and "tiny-imagenet-200.zip" in page
    assert 'id="suite-create" disabled' in page  # queued: no second click
    run = SuiteRun.objects.get()
    assert f'data-ws-path="/ws/suite/{run.pk}/" data-active="1"' in page  # live until done

    queue = django_rq.get_queue("default")
    assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
    run.refresh_from_db()
    assert run.status == "finished"

    pair = Dataset.objects.get(suite="airplane, auto")
    Search.objects.create(owner=alice, dataset=pair, settings={})
    html = alice_client.get("/suite/").content.decode()
    assert "21 of 31 datasets created" in html
    assert "21 created, 10 skipped" in html
    assert f'href="/datasets/{pair.pk}/"' in html
    assert f'href="/searches/{pair.searches.get().pk}/"' in html
    assert "Tiny-ImageNet vehicles: skipped" in html
    assert 'data-active="1"' not in html


def test_without_any_archive_the_button_is_disabled_and_says_why(alice_client, sources):
    html = alice_client.get("/suite/").content.decode()
    assert 'id="suite-create" disabled>' in html and 'data-no-sources="1"' in html
    assert "An administrator adds one by placing" in html
    assert str(sources) not in html and "md5" not in html  # no server paths for a user


def test_staff_see_the_servers_paths_and_checksums(staff_client, sources):
    html = staff_client.get("/suite/").content.decode()
    assert str(sources) in html and "md5" in html


def test_without_any_archive_nothing_is_queued(alice_client, sources):
    r = alice_client.post("/suite/create/", follow=True)
    assert "No source archive found" in r.content.decode()
    assert "no cifar-10-python.tar.gz on the server" in r.content.decode()
    assert str(sources) not in r.content.decode()
    assert not SuiteRun.objects.exists()  # the run's row comes first, then its job


def test_a_second_click_while_running_does_not_queue_again(alice_client, alice, sources):
    place_cifar(sources)
    SuiteRun.objects.create(owner=alice, status="running")
    r = alice_client.post("/suite/create/", follow=True)
    assert "already being created" in r.content.decode()
    assert SuiteRun.objects.count() == 1


def test_another_users_suite_is_not_shown(alice_client, bob_client, alice, sources, dataset):
    dataset.suite = "airplane, auto"
    dataset.save()
    assert "1 of 31 datasets created" in alice_client.get("/suite/").content.decode()
    assert "0 of 31 datasets created" in bob_client.get("/suite/").content.decode()


def test_a_suite_search_is_started_with_the_papers_rule(alice_client, alice, sources, dataset):
    """The suite page's link opens the search form selecting on test with Algorithm 1's own
    thresholds, as the paper does, so the report's rows stay comparable with Table 4."""
    dataset.suite = "airplane, auto"
    dataset.save()
    html = alice_client.get("/suite/").content.decode()
    link = f"/searches/new/?dataset={dataset.pk}&amp;select_on=test&amp;rule=paper&amp;folds=1"
    assert f'href="{link}"' in html and "start one (chosen on test)" in html
    form = alice_client.get(link.replace("&amp;", "&")).content.decode()
    assert '<option value="test" selected>test (as the paper does)</option>' in form
    assert 'name="rule" value="paper" required id="id_rule_1" checked>' in form
    assert f'<option value="{dataset.pk}" selected>' in form
    # the plain form still defaults to validation
    plain = alice_client.get(f"/searches/new/?dataset={dataset.pk}").content.decode()
    assert '<option value="validation" selected>validation (default)</option>' in plain
    bad = alice_client.get(f"/searches/new/?dataset={dataset.pk}&select_on=nonsense")
    assert bad.status_code == 200 and '<option value="validation" selected>' in bad.content.decode()


@pytest.mark.parametrize(
    ("chosen", "shown"),
    [
        ({"select_on": "test"}, "chosen on test, as the paper does"),
        ({"select_on": "validation"}, "chosen on validation"),
        ({}, "chosen on test, as the paper does"),  # from before the setting: the paper's rule
    ],
)
def test_the_suite_page_says_which_split_chose_each_search(
    alice_client, alice, sources, dataset, chosen, shown
):
    dataset.suite = "airplane, auto"
    dataset.save()
    s = Search.objects.create(owner=alice, dataset=dataset, settings=chosen, status="finished")
    html = alice_client.get("/suite/").content.decode()
    assert f'href="/searches/{s.pk}/">Search {s.pk} · finished · {shown}</a>' in html
