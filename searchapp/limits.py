"""Size limits checked before the expensive part: the request body, and a zip's directory.

Every limit is a setting (mininas_web/settings.py) with a stated default; notes/RELIABILITY.md
lists them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, JsonResponse

ZIP_RATIO_MIN_BYTES = 64 * 2**10  # small entries may compress well (blank PNGs); bombs are big


class LimitError(ValueError):
    """An input over a limit, with a reason to show the user."""


def human_bytes(n: int) -> str:
    """1048576 -> '1 MiB', 1536 -> '1.5 KiB', 100 -> '100 bytes'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


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


def check_zip(path: Path) -> int:
    """Read only the zip's central directory; LimitError if it is over a limit. Returns entries.

    Counted before anything is decompressed: the number of entries, the total size they
    declare, and each large entry's compression ratio. Nested archives are never opened (only
    image files are decoded), so a zip inside a zip is one rejected file, not a bomb.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise LimitError(f"not a readable zip file ({exc})") from exc
    if len(infos) > settings.UPLOAD_MAX_ZIP_ENTRIES:
        raise LimitError(
            f"the zip has {len(infos):,} entries; at most {settings.UPLOAD_MAX_ZIP_ENTRIES:,} "
            "are allowed (UPLOAD_MAX_ZIP_ENTRIES)"
        )
    total = 0
    for info in infos:
        total += info.file_size
        if total > settings.UPLOAD_MAX_UNPACKED_BYTES:
            raise LimitError(
                f"the zip unpacks to more than {human_bytes(settings.UPLOAD_MAX_UNPACKED_BYTES)} "
                "(UPLOAD_MAX_UNPACKED_BYTES)"
            )
        if info.file_size >= ZIP_RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > settings.UPLOAD_MAX_ZIP_RATIO:
                raise LimitError(
                    f"entry {info.filename[:200]!r} is compressed {ratio:.0f}:1, more than "
                    f"{settings.UPLOAD_MAX_ZIP_RATIO}:1 (a zip bomb?)"
                )
    return len(infos)
