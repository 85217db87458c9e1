"""Queue again the searches that no live job runs (after a worker or Redis died)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from searchapp.tasks.reconcile import reconcile


class Command(BaseCommand):
    help = "Queue again every queued/running search whose job is gone; --loop to keep doing it."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="repeat until stopped")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between passes with --loop (default RECONCILE_SECONDS)",
        )

    def handle(self, *args, loop=False, interval=None, **options):
        interval = interval or settings.RECONCILE_SECONDS
        while True:
            ids = reconcile()
            if ids or not loop:
                self.stdout.write(f"queued again: {', '.join(map(str, ids)) or 'none'}")
            if not loop:
                return
            time.sleep(interval)
