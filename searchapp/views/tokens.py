"""The API tokens page: make a token (shown once), see when each was last used, revoke one."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from searchapp import tokens
from searchapp.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “training box” or “CI”.")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def token_list(request):
    """A new token is in the answer to the POST that made it and nowhere else: only its hash is
    stored (not in the session either), and the page is never cached."""
    form = TokenForm(request.POST) if request.method == "POST" else TokenForm()
    new = None
    if form.is_bound and form.is_valid():
        try:
            row, token = tokens.create_token(request.user, form.cleaned_data["name"])
        except tokens.TokenError as exc:
            form.add_error(None, str(exc))
        else:
            new = {"id": row.pk, "token": token}
            form = TokenForm()
    ctx = {
        "form": form,
        "tokens": ApiToken.objects.filter(owner=request.user),
        "new": new,
        "limit": settings.API_TOKENS_PER_USER,
    }
    return render(request, "searchapp/tokens.html", ctx, status=400 if form.errors else 200)


@login_required
@require_POST
def token_revoke(request, pk: int):
    row = get_object_or_404(ApiToken, pk=pk, owner=request.user)
    row.delete()
    messages.success(request, f"Token “{row.name}” revoked: requests with it now get 401.")
    return redirect("searchapp-tokens")
