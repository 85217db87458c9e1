"""python manage.py derive_dataset cifar10|tinyimagenet --classes a,b --source PATH [--name N]
[--owner U] [--upscale yes|no]"""

from django.core.management.base import BaseCommand, CommandError

from .import_dataset import resolve_owner


class Command(BaseCommand):
    help = "Derive a dataset from the CIFAR-10 or Tiny-ImageNet archive (the paper's splits)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["cifar10", "tinyimagenet"])
        parser.add_argument("--classes", required=True, help="comma-separated names (or wnids)")
        parser.add_argument(
            "--source",
            help="the archive, its extracted folder, or a folder holding either "
            "(default: the server's sources folder)",
        )
        parser.add_argument("--name", default="", help="default: from the classes")
        parser.add_argument("--owner", help="username (default: the only superuser)")
        parser.add_argument(
            "--upscale",
            choices=["yes", "no"],
            help="search at 224 with the imagenet stem (default: yes for tinyimagenet)",
        )

    def handle(self, kind, classes, source, name, owner, upscale, **options):
        from searchapp import derive
        from searchapp.nas.data import DataError

        user = resolve_owner(owner)
        try:
            path = source or derive.resolve_source(kind)
            dataset = derive.create_derived_dataset(
                user,
                kind,
                classes.split(","),
                path,
                name=name,
                upscale={"yes": True, "no": False}.get(upscale or ""),
            )
        except DataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"dataset {dataset.pk} {dataset.name!r}: {dataset.num_classes} classes, "
            f"{dataset.num_train} train / {dataset.num_test} test images of "
            f"{dataset.image_size}x{dataset.image_size} px"
            + (f", searched with the {dataset.stem} stem" if dataset.stem else "")
        )
