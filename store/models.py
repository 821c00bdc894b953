"""The table of the LangGraph store (`store.backend.DjangoStore`).

One row per item: (owner, namespace, key) is unique. Every item belongs to a
user, as threads do: the store a graph sees during a run is its thread
owner's, and the `/store` API shows a user only their own items. Deleting a
user deletes their items.

`namespace` is the namespace's labels joined with ".", as LangGraph's
PostgreSQL store keeps it and as the platform's API sends it in a query
string (`?namespace=users.alice`). LangGraph refuses labels that are empty or
contain ".", so the text maps back to exactly one tuple, and a namespace
prefix is a text prefix ending at a ".": the items under ("users",) are
`namespace = 'users' OR namespace LIKE 'users.%'`.

`value` is the item's JSON object. `expires_at` is when a TTL item stops being
visible (NULL: never); `ttl_minutes` is its TTL, which a read renews
(`refresh_ttl`: expires_at = now + ttl_minutes), as LangGraph's stores do.

Indexes, by the query each serves:

- `store_item_key` (owner, namespace, key), unique: a get, the upsert of a put
  (ON CONFLICT on it), a delete; and, on its (owner, namespace) head, every
  search and namespace listing, which are namespace ranges of one owner. On
  PostgreSQL `namespace` is indexed with `text_pattern_ops`, so that the
  `LIKE 'users.%'` of a prefix is an index range whatever the database's
  collation (other databases ignore the operator class; SQLite's ranges are
  `>=`/`<` on its binary collation).
- `store_item_owner_updated` (owner, updated_at DESC): a search without a
  prefix, newest first (a search's order).
- `store_item_expiry` (expires_at) where set: the sweep of expired items; only
  items with a TTL are in it.

The owner's foreign key has no index of its own: `store_item_key` starts with
it (deleting a user finds their items there).
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Item(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="store_items",
        db_index=False,  # store_item_key starts with it
    )
    # The labels joined with "." (none empty, none containing ".").
    namespace = models.TextField()
    key = models.TextField(blank=True)
    # A JSON object. Datetimes, UUIDs and decimals a graph puts are stored as
    # strings, as LangGraph's PostgreSQL store stores them.
    value = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    ttl_minutes = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = "store item"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "namespace", "key"],
                opclasses=["", "text_pattern_ops", ""],
                name="store_item_key",
            )
        ]
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="store_item_owner_updated"),
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="store_item_expiry",
            ),
        ]

    def __str__(self):
        return f"{self.namespace} / {self.key}"

    @property
    def namespace_labels(self) -> tuple[str, ...]:
        return tuple(self.namespace.split("."))
