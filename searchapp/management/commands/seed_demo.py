"""python manage.py seed_demo [--search]: the demo user and a small real dataset, once."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from searchapp.forms import search_form_from_dict
from searchapp.models import Dataset, Search
from searchapp.searches import create_search
from searchapp.storage import create_dataset_from_imagedata
from searchapp.tasks.queue import SEARCH

DEMO_DATASET = "digits (scikit-learn)"
# Finishes within minutes on a 2-core CPU (the same bounds as `make demo-cli`).
DEMO_SEARCH = {"max_depth": 6, "epochs": 8, "recipe": "fast", "seed": 0}


class Command(BaseCommand):
    help = (
        "Create the demo user (settings DEMO_USER and DEMO_PASSWORD) and the scikit-learn "
        "digits dataset, unless they exist; --search also queues a small search."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--search", action="store_true", help="queue a small demo search on the digits"
        )

    def handle(self, search: bool, **options):
        user = self.demo_user()
        dataset = Dataset.objects.filter(owner=user, name=DEMO_DATASET).first()
        if dataset is None:
            from searchapp.nas.demo_data import digits

            dataset = create_dataset_from_imagedata(
                user, DEMO_DATASET, digits(size=16), source="scikit-learn load_digits, 16 px"
            )
            self.stdout.write(
                f"dataset {dataset.pk} {dataset.name!r}: {dataset.num_classes} classes, "
                f"{dataset.num_train} train / {dataset.num_test} test images"
            )
        if search:
            self.queue_search(dataset)

    def demo_user(self):
        User = get_user_model()
        user = User.objects.filter(username=settings.DEMO_USER).first()
        if user is None:
            user = User.objects.create_user(settings.DEMO_USER, password=settings.DEMO_PASSWORD)
            self.stdout.write(f"user {user.username!r} created")
        return user

    def queue_search(self, dataset: Dataset) -> None:
        active = dataset.searches.filter(status__in=Search.ACTIVE).first()
        if active is not None:
            self.stdout.write(f"search {active.pk} on the demo data is already {active.status}")
            return
        form = search_form_from_dict({**DEMO_SEARCH, "dataset": dataset.pk}, dataset.owner)
        if not form.is_valid():
            raise CommandError(f"demo search settings rejected: {form.errors.as_text()}")
        created = create_search(dataset.owner, dataset, form.config)
        self.stdout.write(f"search {created.pk}: queued on '{SEARCH.queue}'")
