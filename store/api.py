"""The `/store` API of LangGraph Platform, on `store.backend.DjangoStore`.

The routes, bodies and answers are the platform's (recorded in
notes/reference/store.md), so that langgraph-sdk's `client.store` works
unchanged, in Python and in JavaScript:

- `PUT /store/items` {namespace, key, value, ttl?, index?}: 204.
- `GET /store/items?namespace=a.b&key=k[&refresh_ttl=false]`: 200 with the
  item, or `null` (200 too) when there is none. The namespace is dot-joined,
  as the SDKs send it; a repeated parameter counts once (the last).
- `DELETE /store/items` {namespace, key}: 204, whether or not it existed.
- `POST /store/items/search` {namespace_prefix?, filter?, limit?, offset?,
  refresh_ttl?}: `{"items": [...]}`, newest first, each with `score: null`.
- `POST /store/namespaces` {prefix?, suffix?, max_depth?, limit?, offset?}:
  `{"namespaces": [[...], ...]}`, sorted.

One difference on purpose: the platform has one store per deployment, which
every client with access reads and writes. Here, as threads are, the store is
per user: each request reads and writes `request.user`'s items (the store the
user's runs see), and another user's items are invisible, as if they did not
exist. Authentication is the API's (settings.REST_FRAMEWORK).

Errors are Doubletext's `{"error", "detail", "field"}` with the platform's
statuses: an empty namespace (PUT, DELETE) and a GET without `key` are 400;
every other bad input is 422 naming the field: a label that is empty or has a
".", a namespace or key over 1024 bytes, a value that is not an object, a
missing key, a wrong type, a TTL
outside 0 to 100 years, a limit beyond 1000, a filter the store cannot match
on (`filter.<key>...`), and a `query`: semantic search needs a vector index,
which Doubletext does not have (the platform without one ignored the query
and answered in another order, which a client would take for a ranking).

The views are thin: validate, call the backend as the user, render.
"""

import math

from django.http import HttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from langgraph.store.base import InvalidNamespaceError
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from runs.api.responses import validated
from runs.api.serializers import MAX_OFFSET, JSONObjectField
from runs.services.errors import InvalidRequest, RunsError
from runs.services.payloads import PayloadError, check_text
from store.backend import MAX_TTL_MINUTES, DjangoStore, check_sizes
from store.filters import check_filter

MAX_LIMIT = 1000


class BadStoreRequest(RunsError):
    """What the platform answers 400 rather than 422."""

    status_code = 400
    code = "invalid_request"


# --- request fields ------------------------------------------------------------


def check_label(label, field: str) -> None:
    if not isinstance(label, str):
        raise serializers.ValidationError(f"Namespace labels must be strings, not {label!r}.")
    if not label or "." in label:
        raise serializers.ValidationError(
            f"Namespace label {label!r} must be a non-empty string without periods."
        )
    try:
        check_text(label, field)
    except PayloadError as error:
        raise serializers.ValidationError(error.message) from None


# A label as the schema describes it: not empty, no "." (nor NUL, which no
# database stores).
LABEL = {"type": "string", "minLength": 1, "pattern": "^[^.\\u0000]+$"}


@extend_schema_field({"type": "array", "items": LABEL})
class LabelsField(serializers.Field):
    """A list of labels, possibly empty: a prefix or suffix (empty: everything)."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("Must be a list of strings.")
        self.check_empty(data)
        for label in data:
            check_label(label, self.field_name)
        return tuple(data)

    def check_empty(self, labels: list) -> None:
        pass

    def to_representation(self, value):
        return list(value)


@extend_schema_field({"type": "array", "items": LABEL, "minItems": 1})
class NamespaceField(LabelsField):
    """An item's namespace: an empty one is refused with 400, as on the
    platform (an exception of its own, not a validation error, which is 422)."""

    def check_empty(self, labels: list) -> None:
        if not labels:
            raise BadStoreRequest("Namespace cannot be empty.", field=self.field_name)


class StrictCharField(serializers.CharField):
    """A string as sent: no number turned into one, no whitespace trimmed."""

    default_error_messages = {"not_string": "Must be a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_string")
        try:
            check_text(data, self.field_name)
        except PayloadError as error:
            raise serializers.ValidationError(error.message) from None
        return super().to_internal_value(data)


@extend_schema_field({"type": "number", "nullable": True})
class TTLField(serializers.Field):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise serializers.ValidationError("Must be a number of minutes.")
        if not math.isfinite(data) or not 0 <= data <= MAX_TTL_MINUTES:
            raise serializers.ValidationError(f"Must be from 0 to {MAX_TTL_MINUTES} minutes.")
        return data


@extend_schema_field(
    {
        "oneOf": [
            {"type": "boolean", "enum": [False]},
            {"type": "array", "items": {"type": "string"}},
        ],
        "nullable": True,
    }
)
class IndexField(serializers.Field):
    """Accepted and ignored, as by a LangGraph store without a vector index."""

    def to_internal_value(self, data):
        if data is False or (isinstance(data, list) and all(isinstance(p, str) for p in data)):
            return data
        raise serializers.ValidationError("Must be false, null or a list of field paths.")


# --- request bodies --------------------------------------------------------------


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(JSONObjectField):
    """A JSON object (None only where allow_null)."""


class StorePutRequest(serializers.Serializer):
    namespace = NamespaceField()
    key = StrictCharField(allow_blank=True)
    value = ObjectField()
    index = IndexField(required=False, allow_null=True)
    ttl = TTLField(required=False, allow_null=True)

    def validate(self, data):
        try:
            check_sizes(data["namespace"], data["key"])
        except ValueError as error:
            field, _, message = str(error).partition(": ")
            raise serializers.ValidationError({field: [message]}) from None
        return data


class StoreDeleteRequest(serializers.Serializer):
    namespace = NamespaceField()
    key = StrictCharField(allow_blank=True)


class StoreGetQuery(serializers.Serializer):
    namespace = StrictCharField(allow_blank=True, required=False)
    key = StrictCharField(allow_blank=True, required=False)
    refresh_ttl = serializers.BooleanField(required=False, allow_null=True, default=None)

    def validate(self, data):
        if "key" not in data:
            raise BadStoreRequest("Key is required.", field="key")
        labels = data.get("namespace", "").split(".")
        for label in labels:
            try:
                check_label(label, "namespace")
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"namespace": error.detail}) from None
        data["namespace"] = tuple(labels)
        return data


class StoreSearchRequest(serializers.Serializer):
    namespace_prefix = LabelsField(required=False, allow_null=True)
    filter = ObjectField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=10)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    query = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Semantic search: not supported (no vector index); null or absent.",
    )
    refresh_ttl = serializers.BooleanField(required=False, allow_null=True, default=None)

    def validate(self, data):
        if data.get("query") is not None:
            raise serializers.ValidationError(
                {
                    "query": [
                        "Semantic search is not supported: Doubletext's store has no vector "
                        "index. Search by namespace_prefix and filter."
                    ]
                }
            )
        if data.get("filter") is not None:
            try:
                data["filter"] = check_filter(data["filter"])
            except ValueError as error:
                place, _, message = str(error).partition(": ")
                raise serializers.ValidationError({place: [message]}) from None
        return data


class StoreListNamespacesRequest(serializers.Serializer):
    prefix = LabelsField(required=False, allow_null=True)
    suffix = LabelsField(required=False, allow_null=True)
    max_depth = serializers.IntegerField(
        min_value=1, max_value=MAX_OFFSET, required=False, allow_null=True
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


# --- responses (documentation) ------------------------------------------------------


class StoreItem(serializers.Serializer):
    namespace = serializers.ListField(child=serializers.CharField())
    key = serializers.CharField()
    value = serializers.DictField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class StoreSearchItem(StoreItem):
    score = serializers.FloatField(allow_null=True)


class StoreSearchResponse(serializers.Serializer):
    items = StoreSearchItem(many=True)


class StoreNamespacesResponse(serializers.Serializer):
    namespaces = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class ItemsSchema(AutoSchema):
    """DELETE /store/items takes its namespace and key in a JSON body, as on
    the platform; drf-spectacular documents a body for PUT, PATCH and POST only."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


# --- views --------------------------------------------------------------------------


def store_of(request) -> DjangoStore:
    """The requesting user's store (the request cycle closes its connection)."""
    return DjangoStore(request.user.pk, close_connections=False)


def call(field: str, method, *args, **kwargs):
    """A backend call whose refusal (what the serializers leave to the
    backend: the root label "langgraph") is a 422 naming `field`."""
    try:
        return method(*args, **kwargs)
    except (InvalidNamespaceError, ValueError) as error:
        raise InvalidRequest(str(error), field=field) from None


TAGS = ["store"]


class Items(APIView):
    schema = ItemsSchema()

    @extend_schema(
        request=StorePutRequest,
        responses={204: None},
        summary="Store or update an item",
        tags=TAGS,
        operation_id="store_put_item",
    )
    def put(self, request):
        data = validated(StorePutRequest, request.data)
        ttl = data.get("ttl")
        call(
            "namespace",
            store_of(request).put,
            data["namespace"],
            data["key"],
            data["value"],
            ttl=ttl,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "namespace",
                {"type": "string", "pattern": "^[^.\\u0000]+(\\.[^.\\u0000]+)*$"},
                required=True,
                description="The labels joined by '.'",
            ),
            OpenApiParameter("key", str, required=True),
            OpenApiParameter("refresh_ttl", bool, description="Renew the item's TTL"),
        ],
        responses={
            200: OpenApiResponse(StoreItem, description="The item, or null if there is none")
        },
        summary="Get an item",
        tags=TAGS,
        operation_id="store_get_item",
    )
    def get(self, request):
        data = validated(StoreGetQuery, request.query_params)
        item = call(
            "namespace",
            store_of(request).get,
            data["namespace"],
            data["key"],
            refresh_ttl=data["refresh_ttl"],
        )
        if item is None:
            return HttpResponse(b"null", content_type="application/json")
        return Response(item.dict())

    @extend_schema(
        request=StoreDeleteRequest,
        responses={204: None},
        summary="Delete an item",
        tags=TAGS,
        operation_id="store_delete_item",
    )
    def delete(self, request):
        data = validated(StoreDeleteRequest, request.data)
        call("namespace", store_of(request).delete, data["namespace"], data["key"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ItemSearch(APIView):
    @extend_schema(
        request=StoreSearchRequest,
        responses=StoreSearchResponse,
        summary="Search items under a namespace prefix, newest first",
        tags=TAGS,
        operation_id="store_search_items",
    )
    def post(self, request):
        data = validated(StoreSearchRequest, request.data)
        found = call(
            "namespace_prefix",
            store_of(request).search,
            data.get("namespace_prefix") or (),
            filter=data.get("filter"),
            limit=data["limit"],
            offset=data["offset"],
            refresh_ttl=data["refresh_ttl"],
        )
        return Response({"items": [item.dict() for item in found]})


class Namespaces(APIView):
    @extend_schema(
        request=StoreListNamespacesRequest,
        responses=StoreNamespacesResponse,
        summary="List namespaces",
        tags=TAGS,
        operation_id="store_list_namespaces",
    )
    def post(self, request):
        data = validated(StoreListNamespacesRequest, request.data)
        found = call(
            "prefix",
            store_of(request).list_namespaces,
            prefix=data.get("prefix") or None,
            suffix=data.get("suffix") or None,
            max_depth=data.get("max_depth"),
            limit=data["limit"],
            offset=data["offset"],
        )
        return Response({"namespaces": [list(namespace) for namespace in found]})
