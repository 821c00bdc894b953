"""runs.api.parsers.JSONByDefault: the renderer a request gets is DRF's
choice, reached without parsing the Accept header for what SDKs send."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from runs.api.parsers import JSONByDefault
from runs.api.renderers import JSONRenderer

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


def request(accept=None, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().get(f"/threads{query}", **headers))


@pytest.mark.parametrize(
    "accept,query",
    [
        (None, ""),
        ("*/*", ""),
        ("application/json", ""),
        ("application/json; indent=4", ""),
        ("text/html", ""),
        ("text/html,application/xhtml+xml,*/*;q=0.8", ""),
        ("*/*", "?format=api"),
    ],
)
def test_the_choice_is_drfs(accept, query):
    ours = JSONByDefault().select_renderer(request(accept, query), RENDERERS)
    drfs = DefaultContentNegotiation().select_renderer(request(accept, query), RENDERERS)
    assert (type(ours[0]), ours[1]) == (type(drfs[0]), drfs[1])


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_what_sdks_accept_is_not_parsed(accept):
    """Parsing the header built `request.headers` (every header, case folded)
    and matched it against each renderer: a tenth of a `runs.get`'s request
    thread in py-spy's samples."""
    req = request(accept)
    renderer, media_type = JSONByDefault().select_renderer(req, RENDERERS)
    assert (renderer, media_type) == (RENDERERS[0], "application/json")
    assert "headers" not in req._request.__dict__
