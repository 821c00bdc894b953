"""One place that turns errors into JSON responses.

- service errors (runs.services.errors.RunsError): their status (404, 409, 422)
  and `{"error", "detail", "field"}`;
- invalid bodies (DRF ValidationError): 422 naming the fields, like the
  platform's validation errors;
- malformed JSON (ParseError): 400.
"""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from runs.services.errors import RunsError


def first_error(errors, path: str = "") -> tuple[str, str | None]:
    """(the field, its message) of the first error in DRF's nested errors:
    {"extract": {"x": [...]}} is `extract.x`, a list's {0: [...]} `ids[0]`."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            if value:
                if isinstance(key, int):
                    return first_error(value, f"{path}[{key}]")
                if key == api_settings.NON_FIELD_ERRORS_KEY and path:
                    return first_error(value, path)  # about the nested object itself
                return first_error(value, f"{path}.{key}" if path else str(key))
        return path, None
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict | list):
                if item:
                    return first_error(item, path)
            else:
                return path, str(item)
    return path, None


def exception_handler(exc, context):
    if isinstance(exc, RunsError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        field, message = first_error(errors)
        field = field or None
        detail = f"Invalid {field}: {message or 'invalid value'}" if field else "Invalid request."
        body = {"error": "invalid_request", "detail": detail, "field": field, "errors": errors}
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data.setdefault("error", getattr(exc, "default_code", "error"))
    return response
