from django.urls import path

from .consumers import SearchConsumer, SuiteConsumer

websocket_urlpatterns = [
    path("ws/searches/<int:search_id>/", SearchConsumer.as_asgi()),
    path("ws/suite/<int:run_id>/", SuiteConsumer.as_asgi()),
]
