"""python manage.py import_dataset PATH --name NAME [--owner USER] [--max-side PX]

The same checks and limits as an upload through the page (the UPLOAD_* and DATASET_*
settings, and the owner's storage quota).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from searchapp.storage import check_storage_quota, create_dataset_from_imagedata
from searchapp.uploads import UploadError, engine_limits, working_side


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
        parser.add_argument(
            "--max-side",
            help="working resolution in px: larger images are scaled down "
            "(default: DATASET_MAX_SIDE; at most 512)",
        )

    def handle(self, path, name, owner, max_side, **options):
        from searchapp.nas.data import DataError, load_dataset

        user = resolve_owner(owner)
        try:
            limits = engine_limits(working_side(max_side))
            check_storage_quota(user)
            data = load_dataset(path, strict=False, limits=limits)
            dataset = create_dataset_from_imagedata(user, name, data, source=str(path))
        except (DataError, UploadError) as exc:
            raise CommandError(str(exc)) from exc
        for p, reason in dataset.rejected[:50]:
            self.stderr.write(f"rejected {p}: {reason}")
        self.stdout.write(
            f"dataset {dataset.pk} {dataset.name!r}: {dataset.num_classes} classes, "
            f"{dataset.num_train} train / {dataset.num_test} test images of "
            f"{dataset.image_size}x{dataset.image_size} px, {len(dataset.rejected)} rejected, "
            f"{dataset.resized.get('count', 0)} resized"
        )
