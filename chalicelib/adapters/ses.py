"""Email through SES."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from chalicelib.ports import Email, MailNotSentError, MailRejectedError

# SES errors that say this message will never be sent as it is.
_REJECTED = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "ConfigurationSetDoesNotExistException",
        "ConfigurationSetSendingPausedException",
        "AccountSendingPausedException",
        "InvalidParameterValue",
    }
)


class SesMailer:
    """Implements ``Mailer`` with SES ``SendEmail`` (the client is made on first use).

    An error answer from SES means the message was not taken: a permanent one is
    ``MailRejectedError``, any other (throttling, 5xx) ``MailNotSentError``, as is a connection
    that never opened. A read timeout is left as it is: SES may have sent the message.
    """

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
        try:
            self._ses.send_email(
                Source=self._sender,
                Destination={"ToAddresses": list(email.to)},
                Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"}, "Body": body},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code in _REJECTED:
                raise MailRejectedError(code) from exc
            raise MailNotSentError(code) from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise MailNotSentError(type(exc).__name__) from exc
