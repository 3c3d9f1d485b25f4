"""People: invitations, passwords, page sessions (sign-in, sign-out, expiry), resets of access
and the sign-in throttle, through the API on a real database; expiry with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.auth import people, service, sessions
from cloud.auth.config import AccountSettings
from cloud.auth.models import PersonCreate, Principal, SignInFailure
from cloud.config import Settings
from cloud.database import transaction
from cloud.exceptions import NotAuthenticated, TooManyAttempts
from cloud.main import build_context, create_app
from tests.cloud.conftest import Tenants, coordinator, populate
from tests.waiting import wait_until

PASSWORD = "correct horse battery"
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def invite(client: TestClient, tenants: Tenants, **spec: Any) -> dict[str, Any]:
    body = {"name": "Ana", "username": "ana", "role": "customer", "customer_id": "cust-1"}
    body.update(spec)
    response = client.post("/api/people", json=body, headers=tenants.headers("coordinator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def accept(client: TestClient, token: str, password: str = PASSWORD) -> int:
    answer = client.post("/api/invitations/accept", json={"token": token, "password": password})
    return answer.status_code


def sign_in(client: TestClient, username: str = "ana", password: str = PASSWORD) -> int:
    answer = client.post("/api/session", json={"username": username, "password": password})
    return answer.status_code


def test_an_invited_person_sets_a_password_signs_in_and_out(
    client: TestClient, tenants: Tenants
) -> None:
    person = invite(client, tenants, email="ana@example.com")
    assert person["username"] == "ana" and person["email"] == "ana@example.com"
    invitation = person["invitation"]
    assert invitation["url"].endswith(f"/invite#{invitation['token']}")
    assert sign_in(client) == 401  # no password yet
    assert accept(client, invitation["token"]) == 204
    assert accept(client, invitation["token"], "another long one") == 401  # used up

    assert sign_in(client, password="wrong password!") == 401
    assert sign_in(client, username=" ANA ") == 204  # usernames are lower case
    cookie = client.cookies["glonet_key"]
    assert cookie.startswith("ses_") and PASSWORD not in cookie
    me = client.get("/api/me").json()
    assert me == {
        "name": "Ana",
        "role": "customer",
        "unit_id": None,
        "technician_id": None,
        "customer_id": "cust-1",
    }
    with transaction(client.app.state.context.session_factory) as session:  # type: ignore[attr-defined]
        stored = session.scalar(select(Principal).where(Principal.username == "ana"))
        assert stored is not None and stored.password_hash is not None
        assert stored.password_hash.startswith("$argon2id$") and stored.key_hash is None

    assert client.delete("/api/session").status_code == 204
    client.cookies.set("glonet_key", cookie)  # the old cookie, replayed, is over on the server
    assert client.get("/api/me").status_code == 401


def test_reset_of_access_ends_sessions_and_the_old_password(
    client: TestClient, tenants: Tenants
) -> None:
    person = invite(
        client, tenants, role="technician", customer_id=None, technician_id="tech-plant-a"
    )
    accept(client, person["invitation"]["token"])
    assert sign_in(client) == 204
    assert client.get("/api/me").json()["technician_id"] == "tech-plant-a"

    reset = client.post(
        f"/api/principals/{person['id']}/invitation", headers=tenants.headers("coordinator")
    )
    assert reset.status_code == 200
    assert client.get("/api/me").status_code == 401  # the open session ended
    assert accept(client, person["invitation"]["token"]) == 401  # the old invitation is gone
    assert sign_in(client) == 401  # and the old password
    assert accept(client, reset.json()["invitation"]["token"], "a brand new secret") == 204
    assert sign_in(client, password="a brand new secret") == 204


def signed_in_person(client: TestClient, tenants: Tenants) -> None:
    """Ana, invited, her password set, signed in on ``client``."""
    person = invite(client, tenants)
    assert accept(client, person["invitation"]["token"]) == 204
    assert sign_in(client) == 204


def change(client: TestClient, current: str, new: str) -> Any:
    body = {"current_password": current, "new_password": new}
    return client.put("/api/me/password", json=body)


def test_a_person_changes_their_password_and_their_other_sessions_end(
    client: TestClient, tenants: Tenants
) -> None:
    signed_in_person(client, tenants)
    elsewhere = client.cookies["glonet_key"]  # another browser, say
    assert sign_in(client) == 204
    here = client.cookies["glonet_key"]

    wrong = change(client, "not my password", "a brand new secret")
    assert wrong.status_code == 403 and wrong.json()["message"] == "the present password is wrong"
    short = change(client, PASSWORD, "short")
    assert short.status_code == 422
    assert [f["field"] for f in short.json()["fields"]] == ["body.new_password"]
    assert change(client, PASSWORD, "ana's new long secret").status_code == 422  # the username
    assert change(client, PASSWORD, PASSWORD).status_code == 422
    assert sign_in(client, password="a brand new secret") == 401  # nothing changed so far
    client.cookies.set("glonet_key", here)

    assert change(client, PASSWORD, "a brand new secret").status_code == 204
    assert client.get("/api/me").status_code == 200  # this session stays open
    client.cookies.set("glonet_key", elsewhere)
    assert client.get("/api/me").status_code == 401  # the other one ended
    assert sign_in(client) == 401  # the old password is gone
    assert sign_in(client, password="a brand new secret") == 204


def test_a_wrong_present_password_counts_as_a_failed_sign_in(
    client: TestClient, tenants: Tenants
) -> None:
    signed_in_person(client, tenants)
    limit = client.app.state.context.settings.accounts.max_failures  # type: ignore[attr-defined]
    for _ in range(limit):
        assert change(client, "guess guess guess", "a brand new secret").status_code == 403
    refused = change(client, PASSWORD, "a brand new secret")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert client.get("/api/me").status_code == 200  # still signed in; the password unchanged
    client.cookies.clear()
    assert sign_in(client) == 429  # the username's sign-ins wait too


def test_an_api_key_has_no_password_to_change(client: TestClient, tenants: Tenants) -> None:
    answer = client.put(
        "/api/me/password",
        json={"current_password": "anything at all", "new_password": "a brand new secret"},
        headers=tenants.headers("plant-a"),
    )
    assert answer.status_code == 409 and "API key" in answer.json()["message"]
    assert client.get("/api/me", headers=tenants.headers("plant-a")).status_code == 200


def test_invitations_refuse_bad_input_with_the_field_at_fault(
    client: TestClient, tenants: Tenants
) -> None:
    coordinator_headers = tenants.headers("coordinator")
    bad = client.post(
        "/api/people",
        json={"name": "X", "username": "Not Valid!", "role": "coordinator"},
        headers=coordinator_headers,
    )
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["fields"]] == ["body.username"]
    invite(client, tenants)
    taken = client.post(
        "/api/people",
        json={"name": "Y", "username": "ana", "role": "coordinator"},
        headers=coordinator_headers,
    )
    assert taken.status_code == 409
    key_holder = client.get("/api/principals", headers=coordinator_headers).json()[0]
    not_a_person = client.post(
        f"/api/principals/{key_holder['id']}/invitation", headers=coordinator_headers
    )
    assert not_a_person.status_code == 409
    short = client.post("/api/invitations/accept", json={"token": "inv_x", "password": "short"})
    assert short.status_code == 422
    assert [f["field"] for f in short.json()["fields"]] == ["body.password"]


def test_sign_ins_are_throttled_per_username_then_429(client: TestClient, tenants: Tenants) -> None:
    person = invite(client, tenants)
    accept(client, person["invitation"]["token"])
    limit = client.app.state.context.settings.accounts.max_failures  # type: ignore[attr-defined]
    for _ in range(limit):
        assert sign_in(client, password="guess guess guess") == 401
    refused = client.post("/api/session", json={"username": "ana", "password": PASSWORD})
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_attempts"
    assert 1 <= int(refused.headers["retry-after"]) <= 15 * 60
    # API keys go through the same door, counted by address.
    by_key = client.post("/api/session", json={"api_key": tenants.keys["customer"]})
    assert by_key.status_code == 429


@pytest.fixture
def accounts() -> AccountSettings:
    return AccountSettings(session_idle_s=600, session_lifetime_s=3600, max_failures=3)


def test_sessions_expire_when_idle_and_at_their_lifetime(
    settings: Settings, accounts: AccountSettings
) -> None:
    context = build_context(settings)
    factory = context.session_factory
    with transaction(factory) as session:
        issued = people.invite_person(
            session=session,
            actor=coordinator(),
            spec=PersonCreate(name="C", username="cora", role="coordinator"),
            settings=accounts,
            now=T0,
        )
        principal_id = issued.principal.id

    def open_at(now: datetime) -> str:
        with transaction(factory) as session:
            return sessions.open_session(
                session=session, principal_id=principal_id, settings=accounts, now=now
            )

    def works(token: str, now: datetime) -> bool:
        try:
            with transaction(factory) as session:
                service.authenticate(session=session, api_key=token, now=now)
        except NotAuthenticated:
            return False
        return True

    idle = open_at(T0)
    assert works(idle, T0 + timedelta(seconds=599))
    assert not works(idle, T0 + timedelta(seconds=599 + 600))  # idle since the last request

    busy = open_at(T0)
    now = T0
    while now + timedelta(seconds=300) < T0 + timedelta(seconds=3600):  # a request every 5 min
        now += timedelta(seconds=300)
        assert works(busy, now), now
    assert not works(busy, T0 + timedelta(seconds=3600))  # but not past its lifetime
    context.engine.dispose()


def test_each_persons_status_follows_their_invitation_password_and_revocation(
    settings: Settings, accounts: AccountSettings
) -> None:
    """Invited until the link expires, then expired; active once the password is set; revoked;
    and a reset makes a revoked person invited again."""
    context = build_context(settings)
    factory = context.session_factory
    with transaction(factory) as session:
        issued = {
            name: people.invite_person(
                session=session,
                actor=coordinator(),
                spec=PersonCreate(name=name, username=name, role="coordinator"),
                settings=accounts,
                now=T0,
            )
            for name in ("ivy", "eve", "ada", "rex")
        }
        for name in ("ada", "rex"):
            token = issued[name].token
            people.accept_invitation(session=session, token=token, password=PASSWORD, now=T0)
        service.revoke_principal(
            session=session, actor=coordinator(), principal_id=issued["rex"].principal.id
        )

    def statuses(now: datetime) -> dict[str, tuple[str, datetime | None]]:
        with transaction(factory) as session:
            listed = people.list_people(session=session, actor=coordinator(), now=now)
        return {p.username or "": (p.status.value, p.invitation_expires_at) for p in listed}

    expires = T0 + accounts.invitation
    assert statuses(T0 + timedelta(hours=1)) == {
        "ivy": ("invited", expires),
        "eve": ("invited", expires),
        "ada": ("active", None),
        "rex": ("revoked", None),
    }
    later = expires + timedelta(seconds=1)
    with transaction(factory) as session:
        people.reset_access(
            session=session,
            actor=coordinator(),
            principal_id=issued["rex"].principal.id,
            settings=accounts,
            now=later,
        )
    after = statuses(later)
    assert after["ivy"] == after["eve"] == ("invitation_expired", expires)
    assert after["rex"] == ("invited", later + accounts.invitation)
    assert after["ada"] == ("active", None)
    context.engine.dispose()


def test_throttle_counts_per_address_and_forgets_after_the_window(
    settings: Settings, accounts: AccountSettings
) -> None:
    context = build_context(settings)
    factory = context.session_factory

    def throttled(username: str, address: str, now: datetime) -> bool:
        try:
            with transaction(factory) as session:
                people.throttle(
                    session=session, username=username, address=address, settings=accounts, now=now
                )
        except TooManyAttempts:
            return True
        return False

    for number, name in enumerate(["a1", "a2", "a3"]):
        with transaction(factory) as session:
            people.record_failure(
                session=session,
                username=name,
                address="10.0.0.9",
                settings=accounts,
                now=T0 + timedelta(seconds=number),
            )
    assert throttled("a4", "10.0.0.9", T0 + timedelta(seconds=5))  # the address guessed enough
    assert not throttled("a1", "10.0.0.10", T0 + timedelta(seconds=5))  # one failure for a1
    assert not throttled("a4", "10.0.0.9", T0 + accounts.failure_window + timedelta(seconds=3))
    with transaction(factory) as session:
        people.record_failure(
            session=session,
            username="a5",
            address="10.0.0.11",
            settings=accounts,
            now=T0 + 2 * accounts.failure_window,
        )
        remaining = session.scalars(select(SignInFailure.username)).all()
    assert remaining == ["a5"]  # old failures are pruned as new ones come
    context.engine.dispose()


def test_a_short_configured_lifetime_signs_the_page_out(
    settings_factory: Callable[..., Settings],
) -> None:
    """The configured lifetime reaches the sessions the API opens (no clock injected here);
    requests, which keep an idle session alive, do not extend it."""
    app = create_app(settings_factory(accounts={"session_lifetime_s": 0.3}))
    with TestClient(app) as client:
        tenants = populate(app.state.context)
        assert client.post("/api/session", json={"api_key": tenants.keys["plant-a"]}).is_success
        wait_until(lambda: client.get("/api/me").status_code == 401, 5, "the idle session over")


def test_the_password_session_cookie_is_secure_httponly_strict_over_https(
    settings: Settings, tenants: Tenants, client: TestClient
) -> None:
    person = invite(client, tenants)
    accept(client, person["invitation"]["token"])
    with TestClient(create_app(settings), base_url="https://coordinator.example") as https:
        answer = https.post("/api/session", json={"username": "ana", "password": PASSWORD})
        cookie = answer.headers["set-cookie"].lower()
    assert answer.status_code == 204
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
