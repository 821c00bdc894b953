"""Admin: browse every user's store items, delete them.

Read-only otherwise: an item is what a graph or a client wrote through the
store, and a hand-edited value (or a namespace that breaks the "." rule)
would be something no graph wrote. Deleting is allowed: it is how an
administrator removes a memory a user wants gone, and the store treats a
missing item like one never written.

The value is shown as pretty-printed JSON, escaped (a graph may store text
with HTML in it). The list searches the owner's username (exact), the
namespace (from its start, the prefix the indexes serve) and the key.
"""

import json

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from store.models import Item


def pretty_json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    # format_html escapes the text: whatever a value holds is rendered inert.
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("never", "never"), ("ttl", "has a TTL"), ("expired", "expired")]

    def queryset(self, request, queryset):
        if self.value() == "never":
            return queryset.filter(expires_at__isnull=True)
        if self.value() == "ttl":
            return queryset.filter(expires_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=timezone.now())
        return queryset


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("owner", "namespace", "key", "updated_at", "expires_at")
    list_select_related = ("owner",)
    list_filter = (ExpiryFilter,)
    search_fields = ("=owner__username", "^namespace", "key")
    search_help_text = "An owner's username, the start of a namespace (a.b) or a key."
    ordering = ("-updated_at",)
    show_full_result_count = False
    fields = (
        "owner",
        "namespace",
        "key",
        "value_display",
        "created_at",
        "updated_at",
        "expires_at",
        "ttl_minutes",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="value")
    def value_display(self, obj):
        return pretty_json(obj.value)
