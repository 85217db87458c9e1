"""Numbered events: saved to the database first, then sent to the page's socket group.

channels_redis drops messages to a full or slow client, so each event carries the search's
sequence number; a client that sees a gap asks for a fresh snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from ..models import Search

log = logging.getLogger(__name__)


def group_name(search_id: int) -> str:
    return f"search-{search_id}"


def suite_group(run_id: int) -> str:
    """The group of a suite run's page; its messages carry the whole page, so no seq."""
    return f"suite-{run_id}"


def send(group: str, message: dict) -> None:
    """Send to a socket group; a Redis hiccup is logged, never raised (the DB has it)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "search.event", "message": message})
    except Exception as exc:  # noqa: BLE001 - the page resyncs from the database
        log.warning("could not send %s to %s: %s", message.get("type"), group, exc)


def publish(search_id: int, message: dict) -> None:
    """Send to the search's group (its page's socket)."""
    send(group_name(search_id), message)


def record(search_id: int, event_type: str, apply: Callable[[Search], dict]) -> dict | None:
    """Run `apply(search)` (it saves what it changes) and bump seq in one transaction, then send.

    `apply` returns the event's payload; the sent message is {"type", "seq", **payload, "ts"}.
    None, and nothing applied or sent, when the search has been deleted (its job ends quietly).
    """
    with transaction.atomic():
        rows = Search.objects.select_for_update().select_related("dataset")
        search = rows.filter(pk=search_id).first()
        if search is None:
            log.info("search %s is deleted; %s not recorded", search_id, event_type)
            return None
        payload = apply(search)
        search.seq += 1
        search.save(update_fields=["seq"])
        message = {"type": event_type, "seq": search.seq, **payload}
    message["ts"] = time.time()  # saved and committed at this time (for latency checks)
    publish(search_id, message)
    return message
