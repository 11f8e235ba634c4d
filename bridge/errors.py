"""The domain's errors, named by what the caller does next; each web face renders them its way."""
from __future__ import annotations


class Conflict(Exception):
    """The request does not fit the conversation's or agent's state: HTTP 409 on the API (the
    lifecycle services raise it; the sweep catches it)."""
