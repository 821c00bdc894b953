"""REST endpoints, shaped like LangGraph Platform's so `langgraph-sdk` works,
one module per resource.

Thin adapters: validate the body with a serializer, call the service
(runs.services) as the request's user, render with
runs.services.representation. Long waits (join, wait, SSE streams) are async
generators in a streaming response, so no server thread is held while a run
streams.
"""
