"""The sign-in page when django-axes has locked a username or an address out (429)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def locked_out(request, response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in form again, saying why and for how long.

    axes' async middleware passes the credentials where the response belongs, so neither
    argument is relied on; the username comes from the form that was sent."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    reason = (
        f"Too many failed sign-ins for this username or from this address. "
        f"Signing in is locked for {minutes} minute{'s' if minutes != 1 else ''} "
        f"after the last failed try."
    )
    context = {"form": form, "locked": reason, "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)
