"""chatapp.platform.drf_fields: fields copied shallowly validate as DRF's own.

It relies on `Serializer.fields` binding what `get_fields()` returns: if DRF
stopped calling it, or rebuilt fields elsewhere, these fail."""

import copy

from rest_framework import serializers

from chatapp.platform.drf_fields import ShallowCopiedFields, shallow_copy
from runs.api import serializers as api
from runs.api.serializers import RunCreateSerializer, ThreadSearchSerializer


class Plain(serializers.Serializer):
    name = serializers.CharField(max_length=3)
    ratio = serializers.FloatField(min_value=0, max_value=1, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=2), required=False)


class Shallow(ShallowCopiedFields, Plain):
    pass


def outcome(serializer_class, data):
    serializer = serializer_class(data=data)
    return serializer.is_valid(), serializer.errors or dict(serializer.validated_data)


def test_validates_as_the_deep_copied_fields():
    for data in [
        {"name": "abc", "ratio": 0.5, "tags": ["x"]},
        {"name": "abcd"},
        {"ratio": 2},
        {"name": "a", "tags": ["xyz"]},
        {"name": None},
    ]:
        assert outcome(Shallow, data) == outcome(Plain, data)


def test_each_instance_has_its_own_bound_fields():
    one, two = Shallow(data={}), Shallow(data={})
    assert one.fields["name"] is not two.fields["name"]
    assert one.fields["name"].parent is one and two.fields["name"].parent is two
    assert one.fields["name"].field_name == "name"
    # Declared fields stay unbound: the next copy starts clean.
    assert Shallow._declared_fields["name"].parent is None
    # A field holding another is deep-copied: the child is not shared.
    assert one.fields["tags"].child is not Shallow._declared_fields["tags"].child


def test_the_api_bodies_use_it():
    body = RunCreateSerializer(data={"assistant_id": "agent"})
    assert body.fields["assistant_id"] is not RunCreateSerializer._declared_fields["assistant_id"]
    assert body.is_valid(), body.errors
    assert ThreadSearchSerializer(data={"limit": 5}).is_valid()


def test_a_shallow_copy_is_what_copy_copy_makes_of_every_api_field():
    """DRF's fields are plain objects: copying their __dict__ is copy.copy."""
    bodies = [
        value
        for value in vars(api).values()
        if isinstance(value, type)
        and issubclass(value, ShallowCopiedFields)
        and issubclass(value, serializers.Serializer)
    ]
    assert RunCreateSerializer in bodies
    for body in bodies:
        for field in body._declared_fields.values():
            kind = type(field)
            # What copy.copy would call instead of copying __dict__.
            assert not hasattr(kind, "__copy__") and not hasattr(kind, "__slots__"), kind
            for hook in ("__getstate__", "__reduce_ex__", "__reduce__"):
                assert getattr(kind, hook) is getattr(object, hook), (kind, hook)
            mine, theirs = shallow_copy(field), copy.copy(field)
            assert type(mine) is type(theirs) and vars(mine) == vars(theirs)
