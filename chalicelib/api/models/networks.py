"""The Outsource Network list: entries as created, changed and shown.

Addresses are checked here (each one a valid address, at most ``MAX_RECIPIENTS``); templates are
checked by ``domain.networks`` on the entry as a whole, after a partial update too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from chalicelib.api.models.base import Name, RequestModel, ResponseModel, ShortText
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.networks import (
    MAX_BODY_TEMPLATE,
    MAX_LINK_TEMPLATE,
    MAX_RECIPIENTS,
    MAX_SUBJECT_TEMPLATE,
    EmailSpec,
    Network,
    NetworkAction,
)
from chalicelib.ports import Page


def _addresses(value: list[str]) -> list[str]:
    """Each address valid (normalized), none repeated."""
    from email_validator import EmailNotValidError, validate_email  # on first use: cold starts

    found: list[str] = []
    for index, address in enumerate(value):
        try:
            normalized = validate_email(
                address[:320], check_deliverability=False, allow_smtputf8=False
            ).normalized
        except EmailNotValidError as exc:
            raise PydanticCustomError(
                "email_invalid",
                "recipient {index} is not a valid email address ({reason})",
                {"index": index, "reason": str(exc)[:120]},
            ) from exc
        if normalized.lower() not in {a.lower() for a in found}:
            found.append(normalized)
    return found


Recipients = Annotated[
    list[str],
    Field(max_length=MAX_RECIPIENTS, description=f"At most {MAX_RECIPIENTS} addresses."),
    AfterValidator(_addresses),
]
SubjectTemplate = Annotated[str, StringConstraints(max_length=MAX_SUBJECT_TEMPLATE)]
BodyTemplate = Annotated[str, StringConstraints(max_length=MAX_BODY_TEMPLATE)]
LinkTemplate = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LINK_TEMPLATE)]
Action = Literal["email", "link", "none"]
_PLACEHOLDERS_DOC = (
    "Placeholders: {ticket_number} {title} {description} {instructions} {priority} "
    "{complete_by} {organization} {site}, {contact} with include_contact, {attachments} "
    "(download links, email body only) with include_attachments; {{ and }} are literal braces."
)


class EmailIn(RequestModel):
    to: Recipients = Field(default_factory=list)
    subject: SubjectTemplate = Field("", description=_PLACEHOLDERS_DOC)
    body: BodyTemplate = Field("", description=_PLACEHOLDERS_DOC)
    include_attachments: bool = False
    include_contact: bool = False

    def to_spec(self) -> EmailSpec:
        return EmailSpec(
            to=tuple(self.to),
            subject=self.subject,
            body=self.body,
            include_attachments=self.include_attachments,
            include_contact=self.include_contact,
        )


class NetworkCreate(RequestModel):
    name: Name
    organization: ShortText | None = None
    active: bool = True
    action: Action
    email: EmailIn | None = None
    link_template: LinkTemplate | None = Field(
        None,
        description="https://host/... with the scheme and host written out; placeholders as "
        "in email templates, URL-encoded when rendered.",
    )

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "organization": self.organization,
            "active": self.active,
            "action": NetworkAction(self.action),
            "email": self.email.to_spec() if self.email is not None else None,
            "link_template": self.link_template,
        }


class EmailPatch(RequestModel):
    to: Recipients | None = None
    subject: SubjectTemplate | None = None
    body: BodyTemplate | None = None
    include_attachments: bool | None = None
    include_contact: bool | None = None


class NetworkPatch(RequestModel):
    """Only the fields given change (in ``email`` too); null clears ``organization``,
    ``link_template`` or ``email``."""

    name: Name | None = None
    organization: ShortText | None = None
    active: bool | None = None
    action: Action | None = None
    email: EmailPatch | None = None
    link_template: LinkTemplate | None = None

    def changes(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The top-level changes, and those of ``email`` (None when it is not given)."""
        given = self.model_dump(exclude_unset=True)
        for name in ("name", "active", "action"):
            if name in given and given[name] is None:
                raise ValidationError(f"'{name}' cannot be null.", field=name)
        email_changes: dict[str, Any] | None = None
        if "email" in given:
            email = given.pop("email")
            if email is None:
                given["email"] = None
            else:
                for name, value in email.items():
                    if value is None:
                        raise ValidationError(
                            f"'email.{name}' cannot be null.", field=f"email.{name}"
                        )
                email_changes = dict(email)
                if "to" in email_changes:
                    email_changes["to"] = tuple(email_changes["to"])
        if "action" in given:
            given["action"] = NetworkAction(given["action"])
        return given, email_changes


class EmailOut(ResponseModel):
    to: list[str]
    subject: str
    body: str
    include_attachments: bool
    include_contact: bool


class NetworkOut(ResponseModel):
    network_id: str
    name: str
    organization: str | None
    active: bool
    action: str
    email: EmailOut | None
    link_template: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, network: Network) -> NetworkOut:
        email = network.email
        return cls(
            network_id=network.network_id,
            name=network.name,
            organization=network.organization,
            active=network.active,
            action=network.action.value,
            email=EmailOut(
                to=list(email.to),
                subject=email.subject,
                body=email.body,
                include_attachments=email.include_attachments,
                include_contact=email.include_contact,
            )
            if email is not None
            else None,
            link_template=network.link_template,
            created_at=iso(network.created_at),
            updated_at=iso(network.updated_at),
        )


class NetworkList(ResponseModel):
    items: list[NetworkOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Network]) -> NetworkList:
        return cls(items=[NetworkOut.of(n) for n in page.items], next_cursor=page.next_cursor)
