"""Serve a coordinator app with a real uvicorn on a free port, for page and HTTP tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from glonet.broker import free_port


@contextmanager
def serve(app: Any, ready_within: float = 15.0) -> Iterator[str]:
    """Run ``app`` in a thread; yield its base URL once /healthz answers (up and subscribed)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + ready_within
        while not _healthy(base_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _healthy(base_url), f"the coordinator at {base_url} did not become healthy"
        yield base_url
    finally:
        server.should_exit = True
        thread.join(10)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
