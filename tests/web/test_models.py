from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from searchapp.models import BaselineRun, Candidate, RunStatus, Search, SuiteRun


def test_a_search_has_one_candidate_per_index(search):
    Candidate.objects.create(search=search, index=0, phase="depth")
    with pytest.raises(IntegrityError):
        Candidate.objects.create(search=search, index=0, phase="width")


def test_duration_runs_from_start_to_finish(search):
    assert search.duration is None
    search.started = timezone.now() - timedelta(seconds=90)
    search.finished = search.started + timedelta(seconds=75)
    assert search.duration == 75


def test_urls(search, dataset):
    assert search.get_absolute_url() == f"/searches/{search.pk}/"
    assert dataset.get_absolute_url() == f"/datasets/{dataset.pk}/"


@pytest.mark.parametrize("model", [Search, BaselineRun, SuiteRun])
def test_every_run_shares_the_status_strings(model):
    assert model.Status is RunStatus
    assert [s.value for s in RunStatus] == ["queued", "running", "finished", "failed", "cancelled"]
    assert model._meta.get_field("status").default == "queued"


def test_a_run_is_active_while_queued_or_running(search):
    for status, active in (("queued", True), ("running", True), ("finished", False)):
        search.status = status
        assert search.is_active is active


def test_the_run_status_migration_changes_no_table(transactional_db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sqlmigrate", "searchapp", "0003", stdout=out)
    statements = [line for line in out.getvalue().splitlines() if line and line[:2] != "--"]
    assert statements == ["BEGIN;", "COMMIT;"], out.getvalue()
