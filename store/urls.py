"""The `/store` routes, at the paths langgraph-sdk calls (chatapp/urls.py
includes them at the root)."""

from django.urls import path

from store import api

urlpatterns = [
    path("store/items", api.Items.as_view(), name="store-items"),
    path("store/items/search", api.ItemSearch.as_view(), name="store-search"),
    path("store/namespaces", api.Namespaces.as_view(), name="store-namespaces"),
]
