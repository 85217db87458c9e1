"""python manage.py search DATASET_ID [--epochs N --max-depth D ... --sync]"""

import argparse

from django.core.management.base import BaseCommand, CommandError

from searchapp.forms import search_form_from_dict
from searchapp.models import Dataset
from searchapp.nas.config import SETTINGS
from searchapp.nas.settings import SettingError, add_arguments, given
from searchapp.quotas import LimitExceeded
from searchapp.searches import create_search
from searchapp.serializers import decisions_json
from searchapp.tasks import queue
from searchapp.tasks import search as search_task


class Command(BaseCommand):
    help = "Start a search on a dataset: queue it for a worker, or run it here with --sync."

    def add_arguments(self, parser):
        parser.add_argument("dataset_id", type=int)
        add_arguments(parser, SETTINGS)
        parser.add_argument("--sync", action="store_true", help="run in this process, no worker")

    def handle(self, dataset_id, sync, **options):
        try:
            dataset = Dataset.objects.get(pk=dataset_id)
        except Dataset.DoesNotExist:
            raise CommandError(f"no dataset {dataset_id}") from None
        try:
            data = {"dataset": dataset.pk, **given(argparse.Namespace(**options), SETTINGS)}
        except SettingError as exc:
            raise CommandError(str(exc)) from None
        form = search_form_from_dict(data, dataset.owner)
        if not form.is_valid():
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            raise CommandError(problems)
        try:
            search = create_search(dataset.owner, dataset, form.config, run_here=sync)
        except LimitExceeded as exc:
            raise CommandError(str(exc)) from None
        decisions = decisions_json(search.settings, dataset.num_train)["text"]
        self.stdout.write(f"search {search.pk}: decisions {decisions}")
        if sync:
            self.stdout.write(f"search {search.pk}: running here")
            result = search_task.run_search_job(search.pk)
            search.refresh_from_db()
            best = search.best
            summary = (
                f"best #{best.index} {best.test_acc:.2f}% {best.params} params" if best else ""
            )
            self.stdout.write(f"search {search.pk}: {result['status']} {summary}")
        elif search.rq_job_id:
            self.stdout.write(
                f"search {search.pk}: queued on '{queue.SEARCH.queue}' ({search.rq_job_id})"
            )
        else:
            self.stdout.write(f"search {search.pk}: queued, waiting for its turn on the workers")
