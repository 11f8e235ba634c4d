"""Adapter errors, named by what the caller does next."""
from __future__ import annotations


class RequestRejected(Exception):
    """Refuse the request with this HTTP status; nothing was done."""

    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidSignature(RequestRejected):
    status = 403


class MalformedRequest(RequestRejected):
    status = 400


class PayloadTooLarge(RequestRejected):
    status = 413


class ChannelAPIError(Exception):
    """The channel's API refused or failed a call; retry only when `retryable`."""

    def __init__(self, code: str, message: str, retryable: bool):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
