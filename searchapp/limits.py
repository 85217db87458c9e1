"""The request-size limit, checked before anything reads the body.

Every limit is a setting (mininas_web/settings.py) with a stated default; README's "Limits"
table lists them. A zip's contents are checked by the engine (searchapp.nas.filetree) under
the limits that searchapp.uploads builds from the same settings.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from searchapp.nas.files import human_bytes


class RequestSizeLimitMiddleware:
    """413 for a request whose Content-Length is over UPLOAD_MAX_REQUEST_BYTES.

    It runs first, before CSRF or a view touches request.POST, so the body is never parsed.
    (Under ASGI the server has already spooled the body to a temporary file by then: on disk
    past FILE_UPLOAD_MAX_MEMORY_SIZE, not in memory. A proxy in front can refuse it sooner.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.UPLOAD_MAX_REQUEST_BYTES
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0 or length > limit:
            message = (
                f"request larger than {human_bytes(limit)}"
                if length > limit
                else "bad Content-Length header"
            )
            status = 413 if length > limit else 400
            if request.path.startswith("/api/"):
                return JsonResponse({"error": message}, status=status)
            return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
