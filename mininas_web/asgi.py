"""ASGI entry point: HTTP through Django, WebSockets through Channels (origin and user checked).

Served by Uvicorn (mininas_web/server.py), which hands request bodies to the application as they
arrive; BodyLimit refuses an oversized one before Django reads it (searchapp/limits.py).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mininas_web.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from searchapp.limits import BodyLimit  # noqa: E402
from searchapp.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        # Same-origin check (scheme, host and port), the session's user, the route.
        "websocket": websocket_application(),
    }
)
