"""One place that turns errors into JSON responses.

- service errors (runs.services.errors.RunsError): their status (404, 409, 422)
  and `{"error", "detail", "field"}`;
- invalid bodies (DRF ValidationError): 422 naming the fields, like the
  platform's validation errors;
- malformed JSON (ParseError): 400.
"""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from runs.services.errors import RunsError


def exception_handler(exc, context):
    if isinstance(exc, RunsError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        field = next(iter(errors), None)
        detail = f"Invalid {field}: {errors[field][0]}" if field else "Invalid request."
        body = {"error": "invalid_request", "detail": detail, "field": field, "errors": errors}
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data.setdefault("error", getattr(exc, "default_code", "error"))
    return response
