"""Personal API tokens: made and revoked on the tokens page, sent as `Authorization: Bearer`.

A token is 32 random bytes behind a recognisable prefix. Only its SHA-256 is stored: a
random secret of that size needs no slow hash, since nothing short of the token itself
matches the digest. A revoked token is a deleted row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import ApiToken

PREFIX = "mnas_"
SHOWN = len(PREFIX) + 6  # characters of a token the list shows
LAST_USED_EVERY = timedelta(minutes=1)  # last_used is written at most this often


class TokenError(ValueError):
    """A token that cannot be made (the user has too many)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new token of `user`: its row, and the token itself (never stored, shown once)."""
    limit = settings.API_TOKENS_PER_USER
    with transaction.atomic():
        # The owner's row is locked (PostgreSQL; SQLite's write transactions are serial), so
        # requests at once are counted one after another and the limit holds.
        get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
        if ApiToken.objects.filter(owner=user).count() >= limit:
            raise TokenError(f"you have {limit} tokens, the most allowed; revoke one first")
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken.objects.create(
            owner=user, name=name, prefix=token[:SHOWN], digest=_digest(token)
        )
    return row, token


def user_for_token(token: str):
    """The active owner of `token`; None for an unknown or revoked token or an inactive user."""
    if not token.startswith(PREFIX):
        return None
    row = ApiToken.objects.select_related("owner").filter(digest=_digest(token)).first()
    if row is None or not row.owner.is_active:
        return None
    now = timezone.now()
    if row.last_used is None or now - row.last_used >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used=now)
    return row.owner
