"""Errors as the agent API speaks them: JSON {"error": {"code", "message"}} with the status."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from bridge.errors import Conflict


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.extra = extra or {}  # more fields of the error object (a batch's row and field)


def not_found(what: str = "not found") -> APIError:
    return APIError(404, "not_found", what)


def invalid(message: str, code: str = "invalid") -> APIError:
    return APIError(422, code, message)


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               extra: dict | None = None) -> Response:
    resp = jsonify({"error": {"code": code, "message": message, **(extra or {})}})
    resp.status_code = status
    resp.headers.update(headers or {})
    return resp


def http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    return json_error(exc.code or 500, code, exc.description or exc.name)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(APIError, lambda exc: json_error(exc.status, exc.code, exc.message, exc.headers,
                                                                        exc.extra))
    bp.register_error_handler(Conflict, lambda exc: json_error(409, "conflict", str(exc)))
    bp.register_error_handler(HTTPException, http_error)
