"""The portal's request plumbing on its own: where the portal lives behind each kind of
gateway, how forms are read, and where a sign-in may send the browser afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.errors import TooLargeError, ValidationError
from chalicelib.portal import forms
from chalicelib.portal.web import cookies_of, prefix_of


class _Request:
    def __init__(self, route: str, params: dict[str, str], context: dict[str, Any]) -> None:
        self.path = route
        self.uri_params = params
        self.context = context
        self.headers: dict[str, str] = {}


@pytest.mark.parametrize(
    ("route", "params", "context", "prefix"),
    [
        # chalice local and chalice.test: the path as requested, no stage
        ("/portal/login", {}, {"path": "/portal/login"}, ""),
        ("/portal", {}, {"path": "/portal/"}, ""),
        # API Gateway: the stage in front of the route
        ("/portal/login", {}, {"path": "/api/portal/login", "stage": "api"}, "/api"),
        ("/portal", {}, {"path": "/api/portal/", "stage": "api"}, "/api"),
        (
            "/portal/tickets/{outsourcing_id}",
            {"outsourcing_id": "01ABC"},
            {"path": "/api/portal/tickets/01ABC", "stage": "api"},
            "/api",
        ),
        # a custom domain's base path, whatever the stage is called
        ("/portal/login", {}, {"path": "/work/portal/login", "stage": "prod"}, "/work"),
        # a parameter the gateway decoded: fall back on the stage
        (
            "/portal/tickets/{outsourcing_id}",
            {"outsourcing_id": "a b"},
            {"path": "/api/portal/tickets/a%20b", "stage": "api"},
            "/api",
        ),
        # nothing usable in a link or a cookie path
        ("/portal/login", {}, {"path": '/"><x/portal/login'}, ""),
    ],
)
def test_the_prefix_is_what_the_browsers_path_has_before_the_route(
    route: str, params: dict[str, str], context: dict[str, Any], prefix: str
) -> None:
    # Given a request as a gateway describes it
    request = _Request(route, params, context)
    # When the portal works out where it lives
    found = prefix_of(request)  # type: ignore[arg-type]
    # Then links and cookies are built on the right prefix
    assert found == prefix


def test_cookies_are_read_leniently() -> None:
    # Given a Cookie header with spaces, a value holding "=" and a repeated name
    request = _Request("/portal", {}, {})
    request.headers = {"cookie": "a=1; portal_session=ps_x=y ;a=2; junk"}
    # When it is read
    found = cookies_of(request)  # type: ignore[arg-type]
    # Then each name keeps its first value and nameless parts are ignored
    assert found == {"a": "1", "portal_session": "ps_x=y"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"a=1&a=2", "a"),
        (b"text=%FF", "form"),
        (b"&".join(b"f%d=1" % i for i in range(forms.MAX_FIELDS + 1)), "form"),
    ],
)
def test_a_form_that_cannot_be_read_is_a_400_naming_the_field(raw: bytes, field: str) -> None:
    # When a malformed form is read
    with pytest.raises(ValidationError) as refused:
        forms.parse_form(raw)
    # Then the error names where it is
    assert refused.value.field == field


def test_an_oversized_form_is_too_large() -> None:
    with pytest.raises(TooLargeError):
        forms.parse_form(b"x=" + b"y" * forms.MAX_BODY)


def test_form_values_are_validated_with_labels_and_empty_optionals_dropped() -> None:
    # Given a time entry with an empty optional field, and one with a bad number
    good = forms.validate(
        forms.TimeForm, {"date": "2026-12-01", "hours_worked": "1.5", "hours_billable": ""}
    )
    with pytest.raises(ValidationError) as bad:
        forms.validate(forms.TimeForm, {"date": "2026-12-01", "hours_worked": "lots"})
    # Then the empty field is simply not given, and the error names the field as labelled
    assert good.hours_billable is None and str(good.hours_worked) == "1.5"
    assert bad.value.field == "hours_worked"
    assert bad.value.message.startswith("Hours worked:")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/portal/tickets/01ABC", "/portal/tickets/01ABC"),
        ("/portal", "/portal"),
        ("https://evil.example/portal", None),
        ("//evil.example/portal", None),
        ("/portal/../v1/tenant", None),
        ("/portalx", None),
        (None, None),
    ],
)
def test_after_sign_in_only_a_portal_page_is_a_destination(
    given: str | None, kept: str | None
) -> None:
    assert forms.safe_next(given) == kept
