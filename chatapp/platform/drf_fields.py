"""Serializer fields copied shallowly per instance, not rebuilt.

DRF gives every serializer instance its own fields by `copy.deepcopy` of the
declared ones (`Serializer.get_fields`), and a field's `__deepcopy__` calls
its constructor again with the arguments it was declared with: for the
run-creation body (23 fields) that was ~0.3 ms of each request, more than
validating the body. A field's per-instance state is the attributes `bind`
sets (field_name, parent, label, source, source_attrs), which a shallow copy
keeps apart; what it shares with the declared field (validators, choices,
error messages) is read-only after the constructor. A field that holds
another (`child`: ListField, DictField, a nested or list serializer) is
still deep-copied: DRF sets state on the child during validation
(`ListSerializer.run_child_validation` sets `child.initial_data`).

Relied-on DRF behaviour: `Serializer.fields` binds what `get_fields()`
returns, and a field is a plain object (its state in `__dict__`, no
`__slots__`, `__copy__` or `__getstate__`), so a shallow copy is a new
instance with a copy of its `__dict__`, what `copy.copy` makes by way of
`__reduce_ex__` at three times the cost; tests/unit/platform/test_drf_fields.py
fails when either changes.
"""

import copy

from rest_framework import serializers


def _holds_another(field) -> bool:
    return isinstance(field, serializers.BaseSerializer) or hasattr(field, "child")


def shallow_copy(field):
    """`copy.copy(field)` for a plain object, without `__reduce_ex__`."""
    copied = object.__new__(type(field))
    copied.__dict__.update(field.__dict__)
    return copied


# A mixin for a `serializers.Serializer`, before it in the bases. (No
# docstring: drf-spectacular would describe every body without one by it.)
class ShallowCopiedFields:
    def get_fields(self):
        return {
            name: copy.deepcopy(field) if _holds_another(field) else shallow_copy(field)
            for name, field in self._declared_fields.items()
        }
