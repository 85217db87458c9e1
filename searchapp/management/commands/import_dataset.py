"""python manage.py import_dataset PATH --name NAME [--owner USER]

The same checks and limits as an upload through the page (the UPLOAD_* settings).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from searchapp.storage import create_dataset_from_imagedata
from searchapp.uploads import engine_limits


def resolve_owner(username: str | None):
    """The named user, or the only superuser when no name is given."""
    User = get_user_model()
    if username:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None
    supers = list(User.objects.filter(is_superuser=True)[:2])
    if len(supers) != 1:
        raise CommandError("say which user owns it: --owner USER")
    return supers[0]


class Command(BaseCommand):
    help = "Check and pack an image folder, zip or .npz into a new dataset."

    def add_arguments(self, parser):
        parser.add_argument("path", help="image folder (train/<class>/*, <class>/*), .zip or .npz")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", help="username (default: the only superuser)")

    def handle(self, path, name, owner, **options):
        from searchapp.nas.data import DataError, load_dataset

        user = resolve_owner(owner)
        try:
            data = load_dataset(path, strict=False, limits=engine_limits())
        except DataError as exc:
            raise CommandError(str(exc)) from exc
        dataset = create_dataset_from_imagedata(user, name, data, source=str(path))
        for p, reason in dataset.rejected[:50]:
            self.stderr.write(f"rejected {p}: {reason}")
        self.stdout.write(
            f"dataset {dataset.pk} {dataset.name!r}: {dataset.num_classes} classes, "
            f"{dataset.num_train} train / {dataset.num_test} test images of "
            f"{dataset.image_size}x{dataset.image_size} px, {len(dataset.rejected)} rejected"
        )
