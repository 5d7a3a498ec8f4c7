"""Email addresses in requests: checked and normalized, without loading the checker at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from chalicelib.api.models.base import EmailAddress, RequestModel

ROOT = Path(__file__).resolve().parents[2]


class Contact(RequestModel):
    email: EmailAddress


def test_an_address_is_normalized() -> None:
    assert Contact(email="Ann@Example.COM").email == "Ann@example.com"


@pytest.mark.parametrize(
    "value",
    ["", "ann", "ann@", "@example.com", "ann@example", "Ann <ann@example.com>", "a b@example.com"],
)
def test_a_non_address_is_refused_with_a_reason(value: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Contact(email=value)
    (error,) = caught.value.errors()
    assert error["type"] == "value_error"
    assert error["msg"].startswith("value is not a valid email address")
    assert not error["msg"].endswith(".")  # the 400's message adds the full stop


def test_an_overlong_address_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Contact(email="a" * 400 + "@example.com")
    assert caught.value.errors()[0]["type"] == "string_too_long"


def test_the_schema_says_email() -> None:
    schema = Contact.model_json_schema()["properties"]["email"]
    assert schema["format"] == "email" and schema["type"] == "string"


def test_importing_the_app_does_not_load_the_address_checker() -> None:
    """``email_validator`` (and pydantic's ``EmailStr`` machinery) cost a tenth of a cold start."""
    code = (
        "import sys, app; "
        "print('email_validator' in sys.modules, 'pydantic.networks' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
