from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from searchapp.models import Candidate


def test_a_search_has_one_candidate_per_index(search):
    Candidate.objects.create(search=search, index=0, phase="depth")
    with pytest.raises(IntegrityError):
        Candidate.objects.create(search=search, index=0, phase="width")


def test_duration_runs_from_start_to_finish(search):
    assert search.duration is None
    search.started = timezone.now() - timedelta(seconds=90)
    search.finished = search.started + timedelta(seconds=75)
    assert search.duration == 75


def test_urls_and_group_names(search, dataset):
    assert search.get_absolute_url() == f"/searches/{search.pk}/"
    assert dataset.get_absolute_url() == f"/datasets/{dataset.pk}/"
    assert search.group_name == f"search-{search.pk}"
    assert search.is_active
