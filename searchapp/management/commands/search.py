"""python manage.py search DATASET_ID [--epochs N --max-depth D ... --sync]"""

from django.core.management.base import BaseCommand, CommandError

from searchapp import jobs
from searchapp.forms import CONFIG_FIELDS, search_form_from_dict
from searchapp.models import Dataset, Search
from searchapp.views import create_search

# The list-valued settings (ops, kernels) arrive as comma lists and are parsed below.
OPTIONS = tuple(k for k in CONFIG_FIELDS if k not in ("ops", "kernels"))


class Command(BaseCommand):
    help = "Start a search on a dataset: queue it for a worker, or run it here with --sync."

    def add_arguments(self, parser):
        parser.add_argument("dataset_id", type=int)
        for name in (
            "min_depth",
            "max_depth",
            "min_width",
            "max_width",
            "width_step",
            "epochs",
            "seed",
        ):
            parser.add_argument("--" + name.replace("_", "-"), type=int, dest=name)
        for name in ("l_gain", "l_drop", "c_drop", "target_acc"):
            parser.add_argument("--" + name.replace("_", "-"), type=float, dest=name)
        parser.add_argument("--recipe", choices=["fast", "paper"])
        parser.add_argument("--device", help="auto, cpu or cuda")
        parser.add_argument("--stem", choices=["cifar", "imagenet"])
        parser.add_argument("--ops", help="comma list, e.g. sep,conv")
        parser.add_argument("--kernels", help="comma list, e.g. 3,5,7")
        parser.add_argument("--sync", action="store_true", help="run in this process, no worker")

    def handle(self, dataset_id, sync, **options):
        try:
            dataset = Dataset.objects.get(pk=dataset_id)
        except Dataset.DoesNotExist:
            raise CommandError(f"no dataset {dataset_id}") from None
        data = {k: options[k] for k in OPTIONS if options.get(k) is not None}
        data["dataset"] = dataset.pk
        for name in ("ops", "kernels"):
            if options.get(name):
                data[name] = [v.strip() for v in options[name].split(",") if v.strip()]
        form = search_form_from_dict(data, dataset.owner)
        if not form.is_valid():
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            raise CommandError(problems)
        if sync:
            search = Search.objects.create(
                owner=dataset.owner, dataset=dataset, settings=form.config
            )
            self.stdout.write(f"search {search.pk}: running here")
            result = jobs.run_search_job(search.pk)
            search.refresh_from_db()
            best = search.best
            summary = (
                f"best #{best.index} {best.test_acc:.2f}% {best.params} params" if best else ""
            )
            self.stdout.write(f"search {search.pk}: {result['status']} {summary}")
        else:
            search = create_search(dataset.owner, form)
            self.stdout.write(f"search {search.pk}: queued on '{jobs.QUEUE}' ({search.rq_job_id})")
