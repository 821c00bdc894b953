from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularSwaggerView,
)

from runs.web.views import chat, playground

urlpatterns = [
    path("", chat, name="chat"),
    path("playground/", playground, name="playground"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # The platform's paths for the same.
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-json"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The REST API sits at the root paths langgraph-sdk uses (/threads, /runs, ...).
    path("", include("runs.api.urls")),
    path("", include("store.urls")),
]
