"""The store's admin: every user's items listed and searchable, the value as
escaped pretty JSON, read-only but deletable."""

import pytest
from django.urls import reverse

from store.backend import DjangoStore
from store.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "pw-long-enough")
    client.force_login(user)
    return client


@pytest.fixture
def stored(alice, bob):
    DjangoStore(alice.pk).put(("users", "alice"), "prefs", {"note": "<script>alert(1)</script>"})
    DjangoStore(alice.pk).put(("docs",), "d1", {"text": "hello"}, ttl=5)
    DjangoStore(bob.pk).put(("users", "bob"), "prefs", {"theme": "dark"})


def changelist(client, **params):
    response = client.get(reverse("admin:store_item_changelist"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_list_and_search(staff_client, stored):
    page = changelist(staff_client)
    for text in ("users.alice", "users.bob", "docs", "prefs", "d1", "alice", "bob"):
        assert text in page
    alices = changelist(staff_client, q="alice")  # her username, or a key/namespace with it
    assert "users.alice" in alices and "users.bob" not in alices
    assert "docs" in alices  # alice's, by the exact username
    users = changelist(staff_client, q="users")
    assert "users.alice" in users and "users.bob" in users and ">docs<" not in users
    by_key = changelist(staff_client, q="d1")
    assert "docs" in by_key and "users.alice" not in by_key
    with_ttl = changelist(staff_client, expiry="ttl")
    assert "docs" in with_ttl and "users.bob" not in with_ttl


def test_detail_shows_the_value_escaped_and_read_only(staff_client, stored):
    item = Item.objects.get(key="prefs", namespace="users.alice")
    url = reverse("admin:store_item_change", args=[item.pk])
    page = staff_client.get(url).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert '"note"' in page or "&quot;note&quot;" in page
    assert 'name="_save"' not in page  # view only

    staff_client.post(url, {"namespace": "hacked", "key": "prefs"})
    item.refresh_from_db()
    assert item.namespace == "users.alice"
    assert staff_client.get(reverse("admin:store_item_add")).status_code == 403


def test_delete(staff_client, stored):
    item = Item.objects.get(key="prefs", namespace="users.alice")
    response = staff_client.post(
        reverse("admin:store_item_delete", args=[item.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Item.objects.filter(pk=item.pk).exists()

    response = staff_client.post(
        reverse("admin:store_item_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [Item.objects.get(key="d1").pk],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert list(Item.objects.values_list("namespace", flat=True)) == ["users.bob"]
