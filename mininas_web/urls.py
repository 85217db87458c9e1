"""Top-level URLs: the app's pages and API, sign-in, admin, and /static/ when no proxy serves it."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles import views as static_views
from django.urls import include, path, re_path

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("searchapp.api_urls")),
    path("", include("searchapp.urls")),
]

if settings.SERVE_STATIC:
    urlpatterns += [
        re_path(r"^static/(?P<path>.*)$", static_views.serve, {"insecure": True}),
    ]
