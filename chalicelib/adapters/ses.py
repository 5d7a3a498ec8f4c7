"""Email through SES."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from chalicelib.ports import Email


class SesMailer:
    """Implements ``Mailer`` with SES ``SendEmail`` (the client is made on first use)."""

    def __init__(self, client: Callable[[], Any], sender: str) -> None:
        self._client = client
        self._sender = sender

    @cached_property
    def _ses(self) -> Any:
        return self._client()

    def send(self, email: Email) -> None:
        body: dict[str, Any] = {"Text": {"Data": email.text, "Charset": "UTF-8"}}
        if email.html is not None:
            body["Html"] = {"Data": email.html, "Charset": "UTF-8"}
        self._ses.send_email(
            Source=self._sender,
            Destination={"ToAddresses": list(email.to)},
            Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"}, "Body": body},
        )
