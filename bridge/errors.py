"""Errors as the agent API speaks them: JSON {"error": {"code", "message"}} with the status."""
from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Conflict(Exception):
    """The request does not fit the conversation's or agent's state: HTTP 409 wherever it
    is raised (the lifecycle services raise it; the sweep catches it)."""


def not_found(what: str = "not found") -> APIError:
    return APIError(404, "not_found", what)


def invalid(message: str, code: str = "invalid") -> APIError:
    return APIError(422, code, message)


def _json_error(status: int, code: str, message: str) -> Response:
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status
    return resp


def init_app(app: Flask) -> None:
    @app.errorhandler(APIError)
    def _api_error(exc: APIError):
        return _json_error(exc.status, exc.code, exc.message)

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict):
        return _json_error(409, "conflict", str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            code = (exc.name or "error").lower().replace(" ", "_")
            return _json_error(exc.code or 500, code, exc.description or exc.name)
        return Response(exc.name, status=exc.code, content_type="text/plain; charset=utf-8")
