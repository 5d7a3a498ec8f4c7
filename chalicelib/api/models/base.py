"""The base classes and field types every request and response model uses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from chalicelib.ports import Paging


# defer_build: a model's validator is built on first use, not at import (Lambda cold starts).
class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class QueryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
LongText = Annotated[str, StringConstraints(max_length=8000)]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32000)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4, allow_inf_nan=False)]
Hours = Annotated[Decimal, Field(ge=0, le=24, max_digits=6, decimal_places=2, allow_inf_nan=False)]


def _storable_instant(value: datetime) -> datetime:
    """A time whose UTC value is in years 1 to 9998: one that can be stored, formatted and read
    back (an offset can push 9999-12-31 or 0001-01-01 out of Python's range), with a year to
    spare for arithmetic on it."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not 1 <= utc.year <= 9998:
        raise PydanticCustomError(
            "timestamp_out_of_range", "the time in UTC must be between years 1 and 9998"
        )
    return value


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_storable_instant),
    Field(description="ISO 8601, with a timezone; in UTC between years 1 and 9998"),
]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


def normalized_email(value: str) -> str:
    """The address in its normalized form (domain lower-cased, Unicode normalized), or a
    ``value_error`` saying why it is not one. No DNS lookup; a display name (``Ann <a@b.c>``) is
    not an address.

    ``email_validator`` is imported on the first address checked rather than with the models:
    with pydantic's ``EmailStr`` (which also pulls in ``importlib.metadata`` to check the
    package's version) it was a tenth of every function's cold start.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise PydanticCustomError(
            "value_error",
            "value is not a valid email address: {reason}",
            {"reason": str(exc).rstrip(".")},  # the message's own sentence ends it
        ) from exc


EmailAddress = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(normalized_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),
]
Limit = Annotated[int, Field(ge=1, le=100)]
Id = Annotated[str, StringConstraints(max_length=40)]


class ErrorDetail(ResponseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(ResponseModel):
    error: ErrorDetail


class HealthOut(ResponseModel):
    status: Literal["ok"]


class PageQuery(QueryModel):
    cursor: Cursor | None = None
    limit: Limit = 50

    @property
    def paging(self) -> Paging:
        return Paging(limit=self.limit, cursor=self.cursor)
