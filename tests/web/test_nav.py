"""The top bar: the skip link first, a few main entries, and Research only where it can work."""

from __future__ import annotations

import re

import pytest

from tests.web.derive_fixtures import place_cifar

RESEARCH_LINKS = ('href="/datasets/derive/"', 'href="/suite/"', 'href="/report/"')


@pytest.fixture
def sources(settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    return tmp_path / "sources"


def _topbar(html: str) -> str:
    return html[html.index("<body>") : html.index("<main")]


def test_the_skip_link_is_the_first_focusable_element(alice_client, sources):
    html = alice_client.get("/datasets/").content.decode()
    body = html[html.index("<body>") :]
    first = re.search(r"<(a|button|input|select|textarea|summary)\b[^>]*>", body).group(0)
    assert first == '<a class="skip-link" href="#content">'
    assert '<main id="content" tabindex="-1">' in html


def test_the_sign_in_page_has_the_skip_link_too(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert 'class="skip-link" href="#content">Skip to content</a>' in html


def test_the_main_entries_are_few_and_mark_the_current_page(alice_client, sources):
    bar = _topbar(alice_client.get("/searches/").content.decode())
    nav = bar[bar.index("<nav") : bar.index("</nav>")]
    assert re.findall(r">([^<>]+)</a>", nav) == ["Start", "Datasets", "Searches"]
    assert '<a href="/searches/" aria-current="page">Searches</a>' in nav
    assert 'href="/settings/tokens/"' in bar and "Sign out" in bar


def test_research_is_hidden_from_a_user_while_no_archive_is_there(alice_client, sources):
    bar = _topbar(alice_client.get("/start/").content.decode())
    assert "Research" not in bar
    assert not any(link in bar for link in RESEARCH_LINKS)


def test_research_is_shown_to_staff(staff_client, sources):
    bar = _topbar(staff_client.get("/start/").content.decode())
    assert '<details class="nav-group" id="nav-research">' in bar
    assert all(link in bar for link in RESEARCH_LINKS)


def test_research_is_shown_to_everyone_once_an_archive_is_there(alice_client, sources):
    place_cifar(sources)
    html = alice_client.get("/suite/").content.decode()
    bar = _topbar(html)
    assert all(link in bar for link in RESEARCH_LINKS)
    assert '<summary class="current">Research</summary>' in bar
