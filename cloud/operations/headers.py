"""Security headers on every response, and a per-request nonce for the pages' inline scripts.

Pages get a Content-Security-Policy that runs only the scripts carrying this request's nonce
(``<script nonce="{{ request.state.csp_nonce }}">``), connects and submits only to this origin,
and may not be framed. Styles stay ``'unsafe-inline'``: the pages colour progress bars and
legends with ``style`` attributes, and a style cannot run code. Everything else (JSON, the SSE
stream) gets a policy that allows nothing. OpenAPI's ``/docs`` and ``/redoc`` load their viewer
from a CDN with an inline script, so they get only ``frame-ancestors``.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_BYTES = 16
NONCES_PER_DRAW = 256
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
VIEWER_POLICY = "frame-ancestors 'none'"
COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class Nonces:
    """Nonces from the operating system's random source, drawn :data:`NONCES_PER_DRAW` at a
    time: a draw is a system call, which under load costs the event loop the interpreter lock
    for as long as other threads keep it (every response takes a nonce, a JSON one too)."""

    def __init__(self) -> None:
        self._pool = b""
        self._lock = threading.Lock()  # no two requests get the same one, whatever the thread

    def next(self) -> str:
        with self._lock:
            if not self._pool:
                self._pool = secrets.token_bytes(NONCE_BYTES * NONCES_PER_DRAW)
            nonce, self._pool = self._pool[:NONCE_BYTES], self._pool[NONCE_BYTES:]
        return base64.urlsafe_b64encode(nonce).rstrip(b"=").decode()


class SecurityHeaders:
    """Adds the headers above to every HTTP response; ``viewer_paths`` are the API viewers."""

    def __init__(self, app: ASGIApp, viewer_paths: Collection[str] = ()) -> None:
        self.app = app
        self.viewer_paths = frozenset(viewer_paths)
        self._nonces = Nonces()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = self._nonces.next()
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"content-security-policy"
                ]
                headers.append((b"content-security-policy", self._policy(scope, headers, nonce)))
                headers.extend(COMMON_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _policy(self, scope: Scope, headers: list[tuple[bytes, bytes]], nonce: str) -> bytes:
        if scope["path"] in self.viewer_paths:
            return VIEWER_POLICY.encode()
        content_type = dict(headers).get(b"content-type", b"")
        if content_type.startswith(b"text/html"):
            return PAGE_POLICY.format(nonce=nonce).encode()
        return DATA_POLICY.encode()
