"""Emails to people over SMTP (``aiosmtplib``), as the outbox delivers them.

An email row's payload is :class:`Email` as JSON; :class:`SmtpMailer` sends a round's emails
over one connection and says per email whether the server took it. The delivery runs in a
worker thread, so the mailer runs its own event loop there for the round.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from pydantic import BaseModel, Field

from cloud.config import SmtpSecurity, SmtpSettings

ERROR_LIMIT = 500


class Email(BaseModel):
    """What an email row carries: one recipient, a subject and a plain-text body."""

    to: str
    subject: str = Field(max_length=300)
    body: str = Field(max_length=20_000)
    link: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^/[^\s]*$",
        description="the coordinator's page the email is about (its path): the mailer ends the "
        "body with the line 'Open it: <link>', on smtp.link_base when that is set",
    )

    def text(self, link_base: str | None) -> str:
        """The body as sent: with the page's address (absolute on ``link_base``) last."""
        if self.link is None:
            return self.body
        address = self.link if link_base is None else link_base.rstrip("/") + self.link
        return f"{self.body}\n\nOpen it: {address}"

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, payload: str) -> Email:
        return cls.model_validate(json.loads(payload))


class Mailer(Protocol):
    def send(self, emails: Sequence[Email]) -> list[str | None]:
        """Send each email: per email None when the server accepted it, else why not."""


class SmtpMailer:
    """The :class:`Mailer` of a real SMTP server (see :class:`~cloud.config.SmtpSettings`)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def send(self, emails: Sequence[Email]) -> list[str | None]:
        if not emails:
            return []
        if not self._settings.host:
            return ["no SMTP server configured (smtp.host)"] * len(emails)
        return asyncio.run(self._send_all(emails))

    async def _send_all(self, emails: Sequence[Email]) -> list[str | None]:
        settings = self._settings
        password = settings.password.get_secret_value() if settings.password else None
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=password,
            timeout=settings.timeout_s,
            use_tls=settings.security is SmtpSecurity.TLS,
            start_tls=settings.security is SmtpSecurity.STARTTLS,
            tls_context=self._tls_context(),
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            return [_why(exc)] * len(emails)
        outcomes: list[str | None] = []
        try:
            for email in emails:
                outcomes.append(await self._send_one(client, email))
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        return outcomes

    async def _send_one(self, client: aiosmtplib.SMTP, email: Email) -> str | None:
        try:  # a header with a line break is refused here (ValueError), never sent
            message = EmailMessage()
            message["From"] = self._settings.sender
            message["To"] = email.to
            message["Subject"] = email.subject
            link_base = self._settings.link_base
            message.set_content(email.text(None if link_base is None else str(link_base)))
            refused, _reply = await client.send_message(message)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            return _why(exc)
        if refused:
            return _why(RuntimeError(f"recipient refused: {refused}"))
        return None

    def _tls_context(self) -> ssl.SSLContext | None:
        if self._settings.security is SmtpSecurity.NONE:
            return None
        context = ssl.create_default_context()
        if self._settings.tls_ca_file is not None:
            context.load_verify_locations(self._settings.tls_ca_file)
        return context


def _why(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:ERROR_LIMIT]
