"""The search list (filters, sort, pages) and the compare page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from searchapp.models import Candidate, Search
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_imagedata

ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}


def finished_search(owner, dataset, acc: float, params: int, seconds: float = 60.0) -> Search:
    now = timezone.now()
    s = Search.objects.create(
        owner=owner,
        dataset=dataset,
        settings={},
        status="finished",
        started=now - timedelta(seconds=seconds),
        finished=now,
    )
    for i, a in enumerate((acc - 5, acc)):
        c = Candidate.objects.create(
            search=s,
            index=i,
            phase="depth",
            arch=ARCH,
            params=params + i,
            test_acc=a,
            status="ok",
            accepted=i == 1,
        )
    s.best = c
    s.save()
    return s


def ids_in(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


@pytest.fixture
def three(alice, dataset):
    other = create_dataset_from_imagedata(alice, "birds", make_imagedata(), source="generated")
    return [
        finished_search(alice, dataset, 70.0, 5000, 30),
        finished_search(alice, other, 90.0, 1000, 90),
        finished_search(alice, dataset, 80.0, 3000, 60),
    ]


def test_the_list_sorts_by_accuracy_params_and_duration(alice_client, three):
    a, b, c = (s.pk for s in three)
    assert ids_in(alice_client.get("/searches/").content.decode()) == [c, b, a]
    assert ids_in(alice_client.get("/searches/?sort=accuracy").content.decode()) == [b, c, a]
    assert ids_in(alice_client.get("/searches/?sort=params").content.decode()) == [b, c, a]
    assert ids_in(alice_client.get("/searches/?sort=duration").content.decode()) == [a, c, b]


def test_the_list_filters_by_dataset_status_and_accuracy(alice_client, three, dataset, search):
    a, b, c = (s.pk for s in three)
    html = alice_client.get(f"/searches/?dataset={dataset.pk}&status=finished").content.decode()
    assert ids_in(html) == [c, a]
    assert ids_in(alice_client.get("/searches/?min_acc=75").content.decode()) == [c, b]
    assert ids_in(alice_client.get("/searches/?status=queued").content.decode()) == [search.pk]
    html = alice_client.get("/searches/?min_acc=99").content.decode()
    assert 'id="no-match"' in html


def test_bad_filter_values_are_ignored(alice_client, three):
    r = alice_client.get("/searches/?dataset=x&status=nope&min_acc=abc&sort=drop&page=zz")
    assert r.status_code == 200
    assert len(ids_in(r.content.decode())) == 3


def test_the_list_has_pages_that_keep_the_filters(alice_client, alice, dataset, settings):
    from searchapp.views import searches as views

    for i in range(views.SEARCHES_PER_PAGE + 3):
        finished_search(alice, dataset, 50.0 + i, 100 + i)
    html = alice_client.get("/searches/?status=finished").content.decode()
    assert len(ids_in(html)) == views.SEARCHES_PER_PAGE
    assert 'href="?status=finished&amp;page=2"' in html
    html = alice_client.get("/searches/?status=finished&page=2").content.decode()
    assert len(ids_in(html)) == 3 and 'id="page-prev"' in html


def test_another_users_searches_are_not_listed(bob_client, three):
    assert ids_in(bob_client.get("/searches/").content.decode()) == []


def test_the_compare_page_shows_the_searches_side_by_side(alice_client, three):
    a, b, _ = three
    r = alice_client.get(f"/searches/compare/?ids={a.pk}&ids={b.pk}")
    assert r.status_code == 200
    html = r.content.decode()
    assert ids_in(html) == [a.pk, b.pk]
    assert "70.00%" in html and "90.00%" in html
    assert html.count('<section data-id="') == 2  # one Table-1 table each
    assert 'id="compare-chart"' in html and 'id="compare-data"' in html
    assert "js/compare.js" in html


def test_the_list_offers_compare_checkboxes_for_finished_searches(alice_client, three, search):
    html = alice_client.get("/searches/").content.decode()
    assert html.count('name="ids"') == 3
    assert f'value="{search.pk}"' not in html  # queued


def test_the_compare_button_starts_disabled_with_a_hint(alice_client, three):
    html = alice_client.get("/searches/").content.decode()
    assert 'id="compare-button" aria-describedby="compare-hint" disabled' in html
    assert "Tick two or more finished searches to compare them." in html
    assert "js/compare_pick.js" in html and "data-compare-pick" in html


def test_one_search_gets_a_page_to_pick_a_second_not_an_error(alice_client, three):
    a, b, c = three
    r = alice_client.get(f"/searches/compare/?ids={a.pk}")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="compare-problem"' not in html and 'id="compare-chart"' not in html
    assert "one is ticked, one more is needed" in html
    assert sorted(ids_in(html)) == sorted([a.pk, b.pk, c.pk])  # every finished search to tick
    assert f'value="{a.pk}" id="pick-{a.pk}" checked' in html
    assert f'value="{b.pk}" id="pick-{b.pk}" aria' in html  # not ticked
    assert (
        "Tick one more search to compare." in html
        and 'aria-describedby="compare-hint" disabled' in html
    )


def test_with_fewer_than_two_finished_searches_the_page_says_so(alice_client, alice, dataset):
    only = finished_search(alice, dataset, 70.0, 5000)
    r = alice_client.get(f"/searches/compare/?ids={only.pk}")
    assert r.status_code == 200
    assert "Comparing needs two finished searches; you have 1." in r.content.decode()


@pytest.mark.parametrize(
    "query, reason",
    [
        ("ids=a&ids=b", "by their numbers"),
        ("ids=1&ids=2&ids=3&ids=4&ids=5&ids=6&ids=7", "At most 6"),
    ],
)
def test_bad_picks_get_a_reason(alice_client, three, query, reason):
    r = alice_client.get(f"/searches/compare/?{query}")
    assert r.status_code == 400
    assert reason in r.content.decode()
    assert 'id="compare-pick"' in r.content.decode()  # and the searches to pick from


def test_unfinished_searches_cannot_be_compared(alice_client, three, search):
    r = alice_client.get(f"/searches/compare/?ids={three[0].pk}&ids={search.pk}")
    assert r.status_code == 400
    assert "Only finished searches" in r.content.decode()


def test_another_users_search_is_404(bob_client, bob, three):
    r = bob_client.get(f"/searches/compare/?ids={three[0].pk}&ids={three[1].pk}")
    assert r.status_code == 404
