"""The portal's forms and query strings, each one pydantic model: whatever a browser (or anyone
else) sends is validated here, and bad input is a 400 page naming the field, never a 500.

Forms arrive ``application/x-www-form-urlencoded``, so every value is a string: the models are
lax (``"1.5"`` is a decimal, ``"on"`` a checked box), a box left unchecked is simply absent, and
an empty optional field counts as not given.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

import pydantic
from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.api.models.base import (
    EmailAddress,
    Hours,
    LongText,
    Money,
    Name,
    NoteText,
    Quantity,
    ShortText,
)
from chalicelib.domain.errors import TooLargeError, ValidationError
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.service.portal_work import WorkView

MAX_FIELDS = 40
MAX_BODY = 64 * 1024

# How each field is named on its form (error pages name the field as the user sees it).
LABELS = {
    "email": "Email",
    "password": "Password",
    "confirm": "Repeat the password",
    "token": "Link",
    "next": "Next page",
    "csrf": "Form token",
    "view": "Show",
    "status": "Status",
    "q": "Search",
    "cursor": "Page",
    "items": "Page of items",
    "reason": "Reason",
    "assignee_id": "Colleague",
    "text": "Note",
    "internal": "Internal",
    "date": "Date",
    "hours_worked": "Hours worked",
    "hours_billable": "Billable hours",
    "work_type": "Work type",
    "summary": "Summary",
    "name": "Name",
    "quantity": "Quantity",
    "unit_cost": "Unit cost",
    "unit_price": "Unit price",
    "billable": "Billable",
    "file_name": "File name",
    "content_type": "File type",
    "size": "Size in bytes",
    "can_accept": "May accept work",
    "admin": "Administrator",
    "phone": "Phone",
    "address": "Address",
    "website": "Website",
}

M = TypeVar("M", bound=pydantic.BaseModel)


def label(name: str) -> str:
    return LABELS.get(name, name)


class FormModel(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, str_strip_whitespace=True)


class QueryModel(pydantic.BaseModel):
    # Other parameters are ignored: S3 adds bucket, key and etag when it sends a browser back.
    model_config = ConfigDict(extra="ignore", defer_build=True, str_strip_whitespace=True)


def parse_form(raw: bytes | str) -> dict[str, str]:
    """The fields of an urlencoded body; a repeated, undecodable or oversized one is a 400."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_BODY:
        raise TooLargeError("The form is too large.", field="form")
    try:
        pairs = parse_qsl(
            data.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise ValidationError("The form could not be read.", field="form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise ValidationError(f"{label(name)} was sent twice.", field=name)
        form[name] = value
    return form


def validate(model: type[M], values: dict[str, str]) -> M:
    """The model from form or query values; the first problem is a 400 naming its field."""
    fields = model.model_fields
    given: dict[str, Any] = {
        name: value
        for name, value in values.items()
        if value != "" or name not in fields or fields[name].is_required()
    }
    try:
        return model.model_validate(given)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(part) for part in first.get("loc", ())) or "form"
        kind = first.get("type", "")
        if kind == "extra_forbidden":
            raise ValidationError(f"Unknown field '{loc}'.", field=loc) from exc
        if kind == "missing":
            raise ValidationError(f"{label(loc)} is required.", field=loc) from exc
        message = str(first.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        raise ValidationError(f"{label(loc)}: {message}.", field=loc) from exc


Email = Annotated[EmailAddress, Field(max_length=254)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
_NEXT = re.compile(r"^/portal(/[A-Za-z0-9_-]+)*/?$")


def safe_next(value: str | None) -> str | None:
    """A page of the portal to go back to after signing in (never another site)."""
    return value if value and _NEXT.match(value) else None


class SignInForm(FormModel):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Password
    next: Annotated[str, StringConstraints(max_length=300)] = ""


class ResetRequestForm(FormModel):
    email: Email


class PasswordForm(FormModel):
    token: Token
    password: Password
    confirm: Password

    def check(self) -> None:
        """Both passwords typed the same."""
        if self.password != self.confirm:
            raise ValidationError(
                "Repeat the password: the two passwords are not the same.", field="confirm"
            )


class TokenQuery(QueryModel):
    token: Token | None = None
    sent: bool = False


class SignInQuery(QueryModel):
    next: Annotated[str, StringConstraints(max_length=300)] | None = None
    done: Annotated[str, StringConstraints(max_length=40)] | None = None


class ListQuery(QueryModel):
    view: WorkView | None = None
    status: OutsourceStatus | None = None
    q: Annotated[str, StringConstraints(max_length=100)] | None = None
    cursor: Cursor | None = None


class TicketQuery(QueryModel):
    done: Annotated[str, StringConstraints(max_length=40)] | None = None
    items: Cursor | None = None


class PageQuery(QueryModel):
    cursor: Cursor | None = None
    done: Annotated[str, StringConstraints(max_length=40)] | None = None


class EmptyForm(FormModel):
    pass


class DeclineForm(FormModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ReassignForm(FormModel):
    assignee_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class NoteForm(FormModel):
    text: NoteText
    internal: bool = False


class TimeForm(FormModel):
    date: dt.date
    hours_worked: Annotated[Hours, Field(gt=0)]
    hours_billable: Hours | None = None
    work_type: ShortText | None = None
    summary: LongText = ""
    internal: bool = False


class ChargeForm(FormModel):
    name: Name
    quantity: Quantity
    unit_cost: Money = Decimal(0)
    unit_price: Money = Decimal(0)
    billable: bool = False  # an unchecked box is absent
    internal: bool = False


class AttachmentForm(FormModel):
    file_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$", max_length=100)
    ]
    size: Annotated[int, Field(ge=1, le=10**12)]
    internal: bool = False


class NewUserForm(FormModel):
    name: Name
    email: Email
    can_accept: bool = False
    admin: bool = False


class RolesForm(FormModel):
    can_accept: bool = False
    admin: bool = False


class CompanyForm(FormModel):
    name: Name
    phone: ShortText = ""
    address: Annotated[str, StringConstraints(max_length=1000)] = ""
    website: ShortText = ""
