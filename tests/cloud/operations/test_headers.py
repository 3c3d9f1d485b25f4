"""Security headers, the pages' script nonces, and the session cookie over HTTPS (issue 20, M2)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from cloud.config import Settings
from cloud.main import create_app
from tests.cloud.conftest import Tenants
from tests.cloud.serving import serve

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def policy(response: httpx.Response) -> dict[str, str]:
    directives = (
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    )
    return {name: value for name, value in directives}


def assert_common(response: httpx.Response) -> None:
    for name, value in COMMON.items():
        assert response.headers[name] == value, name
    assert policy(response)["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", ["/", "/orders", "/configurator", "/maintenance"])
def test_pages_run_only_their_own_nonced_scripts(client: TestClient, tenants: Tenants, path):
    client.cookies.set("glonet_key", tenants.keys["coordinator"])
    first, second = client.get(path), client.get(path)
    assert first.status_code == 200, first.text
    assert_common(first)
    rules = policy(first)
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]+)'", rules["script-src"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", first.text)
    assert scripts and all(f'nonce="{nonce}"' in attributes for attributes in scripts)
    assert not re.search(r"\son[a-z]+=", first.text), "an inline handler would be blocked"
    assert rules["object-src"] == "'none'" and rules["base-uri"] == "'none'"
    assert policy(second)["script-src"] != rules["script-src"]  # a fresh nonce per response


def test_the_sign_in_page_is_covered_too(client: TestClient):
    page = client.get("/")
    assert page.status_code == 401 and "<script nonce=" in page.text
    assert_common(page)


def test_api_answers_and_errors_allow_nothing(client: TestClient, tenants: Tenants):
    for response in (
        client.get("/api/me", headers=tenants.headers("coordinator")),
        client.get("/api/me"),
        client.get("/openapi.json"),
    ):
        assert_common(response)
        assert policy(response)["default-src"] == "'none'"


def test_the_api_viewer_may_load_its_cdn_but_not_be_framed(client: TestClient):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert_common(docs)
    assert set(policy(docs)) == {"frame-ancestors"}


def set_cookie(response: httpx.Response) -> str:
    assert response.status_code == 204, response.text
    return response.headers["set-cookie"]


def test_the_session_cookie_is_secure_over_https(settings: Settings, tenants: Tenants):
    key = {"api_key": tenants.keys["coordinator"]}
    with TestClient(create_app(settings), base_url="https://coordinator.example") as https:
        cookie = set_cookie(https.post("/api/session", json=key))
        assert "secure" in cookie.lower() and "httponly" in cookie.lower()
        assert "samesite=strict" in cookie.lower()
    with TestClient(create_app(settings), base_url="http://coordinator.example") as plain:
        assert "secure" not in set_cookie(plain.post("/api/session", json=key)).lower()


@pytest.mark.parametrize(("trusted", "secure"), [([], False), (["127.0.0.1"], True)])
def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(
    settings_factory: Callable[..., Settings], tenants: Tenants, trusted, secure
):
    app = create_app(settings_factory(trusted_proxies=trusted))
    with serve(app) as base_url:
        response = httpx.post(
            f"{base_url}/api/session",
            json={"api_key": tenants.keys["coordinator"]},
            headers={"X-Forwarded-Proto": "https"},
        )
    assert ("secure" in set_cookie(response).lower()) is secure
