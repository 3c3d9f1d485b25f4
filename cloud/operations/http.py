"""HTTP plumbing: JSON errors for everything, a request body limit, request metrics."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.exceptions import CloudError, TooManyAttempts
from cloud.operations.metrics import Metrics

_LOGGER = logging.getLogger(__name__)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


class FieldProblem(BaseModel):
    field: str = Field(description="where, e.g. 'body.latitude' or 'path.unit_id'")
    message: str
    type: str


class ErrorAnswer(BaseModel):
    """Every error the API answers: a stable code, a sentence, and for a refused request the
    fields at fault."""

    error: str = Field(description="stable code, e.g. 'not_found', 'validation_failed'")
    message: str
    fields: list[FieldProblem] | None = None


_MEANINGS = {
    401: "no API key, or one that is unknown or revoked",
    403: "the caller's role may never use this endpoint",
    404: "no such resource, or one of another member (the same answer, so as not to tell)",
    409: "conflicts with the resource's current state",
    413: "the body is over the coordinator's max_body_bytes",
    429: "too many failed sign-ins for this username or address; retry after Retry-After seconds",
    422: "the request is invalid (bad field, NUL byte, lone surrogate, non-finite number, id "
    "out of range…)",
    503: "the database is unavailable; retry later",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error status codes, with the :class:`ErrorAnswer` model."""
    return {code: {"model": ErrorAnswer, "description": _MEANINGS[code]} for code in codes}


class ApiRoute(APIRoute):
    """A route of the authenticated API: it declares the errors every such endpoint can
    answer (401, 403, 422, 503), 404 when its path names a resource and 413 when it takes a
    body; a route adds its others (404 for a reference in its body, 409) with
    ``responses=answers(...)``."""

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        declared = answers(401, 403, 422, 503)
        if "{" in path:
            declared.update(answers(404))
        if {"POST", "PUT", "PATCH"} & set(kwargs.get("methods") or ()):
            declared.update(answers(413))
        kwargs["responses"] = {**declared, **(kwargs.get("responses") or {})}
        super().__init__(path, *args, **kwargs)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CloudError)
    async def cloud_error(_request: Request, exc: CloudError) -> JSONResponse:
        if exc.status_code >= 500:
            _LOGGER.error("request failed: %s", exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(part) for part in error["loc"]),
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
        return JSONResponse(
            error_body("validation_failed", f"invalid request: {summary}", fields=fields),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        _LOGGER.exception("unexpected error")
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            error_body("payload_too_large", f"request body over {self.max_bytes} bytes"),
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing passes it through unchanged."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes")


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


INT64 = range(-(2**63), 2**63)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a row id (a positive 32-bit integer)")]
"""An integer id in a path: bounded to the database's INTEGER, so that a larger one is a 422,
not an overflow in the driver."""
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_JSON = re.compile(r"^application/([\w.+-]+\+)?json\b")


class StrictInput:
    """Refuse with 422 what no database stores alike, before any endpoint sees it.

    NUL characters (PostgreSQL refuses them in text, SQLite keeps them) and lone surrogates
    (UTF-8 cannot encode them) in the path, the query or a JSON body's strings and keys;
    non-finite numbers (``NaN``, ``Infinity``, ``1e400``) and integers beyond 64 bits in a JSON
    body; a JSON body that does not parse. One check here, so that both databases answer the
    same, every endpoint included.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = list(_url_problems(scope))
        headers = dict(scope["headers"])
        if not problems and _JSON.match(headers.get(b"content-type", b"").decode("latin-1")):
            body = await _whole_body(receive)
            problems = list(_json_problems(body))
            receive = _replay(body, receive)
        if problems:
            summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:3])
            response = JSONResponse(
                error_body("validation_failed", f"invalid request: {summary}", fields=problems),
                status_code=422,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": "unstorable"}


def _text_problem(field: str, text: str) -> dict[str, str] | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
    return _problem(field, f"contains {what}")


def _url_problems(scope: Scope) -> Iterator[dict[str, str]]:
    if problem := _text_problem("path", scope["path"]):
        yield problem
    # Decoded as Starlette does (invalid UTF-8 becomes U+FFFD): only NUL can come through.
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if problem := _text_problem(f"query.{name}", name + value):
            yield problem


def _json_problems(body: bytes) -> Iterator[dict[str, str]]:
    if not body:
        return
    try:
        document = json.loads(body)
        problems = list(_value_problems("body", document))
    except ValueError as exc:  # FastAPI would answer bytes that are not UTF-8 with a 400
        yield {"field": "body", "message": f"is not JSON: {exc}", "type": "json_invalid"}
        return
    except RecursionError:  # a few thousand brackets deep: the parser or the walk gives up
        yield {"field": "body", "message": "is nested too deeply", "type": "json_invalid"}
        return
    yield from problems


def _value_problems(field: str, value: Any) -> Iterator[dict[str, str]]:
    if isinstance(value, str):
        if problem := _text_problem(field, value):
            yield problem
    elif isinstance(value, bool):
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield _problem(field, "must be a finite number")
    elif isinstance(value, int):
        if value not in INT64:
            yield _problem(field, "must be a 64-bit integer")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _value_problems(f"{field}.{index}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := _text_problem(f"{field}.{key!r}", key):
                yield problem
            yield from _value_problems(f"{field}.{key}", item)


async def _whole_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


class RequestMetrics:
    """Observe every HTTP request's latency by method and status class."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.metrics.http_requests.observe(
                    time.perf_counter() - started,
                    method=scope["method"],
                    status=f"{status // 100}xx",
                )
            await send(message)

        await self.app(scope, receive, observed)
