"""Email through SES."""

from __future__ import annotations

from typing import Any

from chalicelib.ports import Email


class SesMailer:
    """Implements ``Mailer`` with SES ``SendEmail``."""

    def __init__(self, ses_client: Any, sender: str) -> None:
        self._ses = ses_client
        self._sender = sender

    def send(self, email: Email) -> None:
        body: dict[str, Any] = {"Text": {"Data": email.text, "Charset": "UTF-8"}}
        if email.html is not None:
            body["Html"] = {"Data": email.html, "Charset": "UTF-8"}
        self._ses.send_email(
            Source=self._sender,
            Destination={"ToAddresses": list(email.to)},
            Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"}, "Body": body},
        )
