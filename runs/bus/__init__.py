"""The message bus between server processes and workers: the channel layer.

- `protocol`: every message, group name, event kind and lifecycle status;
- `publish`: sending them, from async or sync code;
- `subscribe`: receiving a thread's events, waiting for a run to end.
"""
