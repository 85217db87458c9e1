"""Write the mistakes' images of finished searches that have none (the job that finishes a search
writes them; this is for searches finished without them). Runs outside the web process: it
loads each dataset's test split once."""

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from searchapp.models import Search
from searchapp.storage import has_mistake_images, media_path, write_mistake_images


class Command(BaseCommand):
    help = "Save the images of the final model's mistakes for finished searches without them."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="search ids (default: all)")

    def handle(self, *args, ids=(), **options):
        rows = Search.objects.filter(status=Search.Status.FINISHED).select_related("dataset")
        if ids:
            rows = rows.filter(pk__in=ids)
            missing = set(ids) - set(rows.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no finished search {', '.join(map(str, sorted(missing)))}")
        by_dataset: dict[int, list[Search]] = {}
        for s in rows.order_by("dataset_id", "pk"):
            wrong = (s.final or {}).get("misclassified") or []
            if wrong and not has_mistake_images(s.pk) and s.dataset.npz_path:
                by_dataset.setdefault(s.dataset_id, []).append(s)
        for searches in by_dataset.values():
            path = media_path(searches[0].dataset.npz_path)
            if not path.is_file():
                self.stderr.write(f"{path.name} of dataset {searches[0].dataset_id} is missing")
                continue
            with np.load(path, allow_pickle=False) as z:
                x_test = z["x_test"]
            for s in searches:
                n = write_mistake_images(
                    s.pk, x_test, [m["index"] for m in s.final["misclassified"]]
                )
                self.stdout.write(f"search {s.pk}: {n} images")
            del x_test
