"""Portal isolation: on every portal route, another company's outsourcing, work a technician
is not assigned to, and a malformed id are the same 404 page, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.container import get_container
from tests.integration.conftest import Harness
from tests.integration.portal_support import Browser, Company, add_company

TIME = {"date": "2026-12-01", "hours_worked": "1"}
CHARGE = {"name": "Cable", "quantity": "1"}
FILE = {"file_name": "a.pdf", "content_type": "application/pdf", "size": "3"}
# Every portal route that names an outsourcing: method, path (oid, aid filled in), form.
TICKET_ROUTES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/portal/tickets/{oid}", {}),
    ("GET", "/portal/tickets/{oid}/work-order", {}),
    ("GET", "/portal/tickets/{oid}/invoice", {}),
    ("GET", "/portal/tickets/{oid}/attachments/{aid}", {}),
    ("GET", "/portal/tickets/{oid}/attachments/{aid}/upload", {}),
    ("POST", "/portal/tickets/{oid}/accept", {}),
    ("POST", "/portal/tickets/{oid}/decline", {"reason": "No"}),
    ("POST", "/portal/tickets/{oid}/reassign", {"assignee_id": "{uid}"}),
    ("POST", "/portal/tickets/{oid}/notes", {"text": "Hello"}),
    ("POST", "/portal/tickets/{oid}/time-entries", TIME),
    ("POST", "/portal/tickets/{oid}/charges", CHARGE),
    ("POST", "/portal/tickets/{oid}/attachments", FILE),
    ("POST", "/portal/tickets/{oid}/submit-completion", {}),
]
USER_ROUTES = [
    ("POST", "/portal/users/{uid}/deactivate", {}),
    ("POST", "/portal/users/{uid}/reset", {}),
    ("POST", "/portal/users/{uid}/roles", {"can_accept": "on"}),
]


def table_state(harness: Harness) -> dict[tuple[str, str], Any]:
    """Every record of the table (sessions by key only: reading a page may touch one)."""
    client = harness.dynamodb()
    found: dict[tuple[str, str], Any] = {}
    for page in client.get_paginator("scan").paginate(TableName=harness.table_name):
        for item in page["Items"]:
            key = (item["pk"]["S"], item["sk"]["S"])
            found[key] = None if key[1].startswith("SESSION#") else item
    return found


def _declared(company: Company, oid: str) -> str:
    reply = company.admin.post(f"/portal/tickets/{oid}/attachments", FILE)
    assert reply.status_code == 303, reply.text
    return reply.headers["Location"].split("/attachments/")[1].split("/")[0]


def _user_id(email: str) -> str:
    user = get_container().portal_users.find_by_email(email)
    assert user is not None
    return user.user_id


def _answers(
    browser: Browser, routes: list[tuple[str, str, dict[str, str]]], ids: dict[str, str]
) -> list[tuple[int, str]]:
    answers = []
    for method, template, fields in routes:
        path = template.format(**ids)
        filled = {k: v.format(**ids) for k, v in fields.items()}
        reply = browser.get(path) if method == "GET" else browser.post(path, filled)
        answers.append((reply.status_code, reply.text))
    return answers


@pytest.fixture
def companies(harness: Harness) -> tuple[Company, Company]:
    ours, theirs = add_company(harness), add_company(harness, name="Other Techs")
    return ours, theirs


def test_another_companys_work_is_the_same_404_page_on_every_route(
    harness: Harness, companies: tuple[Company, Company]
) -> None:
    # Given another company with accepted work and a declared file
    ours, theirs = companies
    their_oid = theirs.outsource()
    theirs.accept(their_oid)
    their_file = _declared(theirs, their_oid)
    their_admin = _user_id(theirs.admin_email)
    before = table_state(harness)
    # When our admin tries every route with their ids, and with malformed ids
    foreign = _answers(
        ours.admin,
        TICKET_ROUTES + USER_ROUTES,
        {"oid": their_oid, "aid": their_file, "uid": their_admin},
    )
    malformed = _answers(
        ours.admin, TICKET_ROUTES + USER_ROUTES, {"oid": "not-an-id", "aid": "x", "uid": "y"}
    )
    # Then every answer is the one same 404 page, and nothing of theirs changed
    pages = {text for _, text in foreign + malformed}
    assert {status for status, _ in foreign + malformed} == {404}
    assert len(pages) == 1 and "Not found" in next(iter(pages))
    assert table_state(harness) == before


def test_work_a_technician_is_not_assigned_to_is_the_same_404_page(
    harness: Harness, companies: tuple[Company, Company]
) -> None:
    # Given our accepted work (the admin's), a file on it, a technician, and the other's work
    ours, theirs = companies
    oid = ours.outsource()
    ours.accept(oid)
    file_id = _declared(ours, oid)
    tech = ours.colleague("Tom Tech")
    their_oid = theirs.outsource()
    admin_id = _user_id(ours.admin_email)
    before = table_state(harness)
    # When the technician tries every route on it, on the other company's, and on nonsense
    unassigned = _answers(tech, TICKET_ROUTES, {"oid": oid, "aid": file_id, "uid": admin_id})
    foreign = _answers(tech, TICKET_ROUTES, {"oid": their_oid, "aid": file_id, "uid": admin_id})
    malformed = _answers(tech, TICKET_ROUTES, {"oid": "0" * 27, "aid": "x", "uid": admin_id})
    # Then all of them are the same 404 page, and nothing changed
    answers = unassigned + foreign + malformed
    assert {status for status, _ in answers} == {404}
    assert len({text for _, text in answers}) == 1
    assert table_state(harness) == before
    # And the work does not appear in the technician's list, though it does in the admin's
    assert f"/portal/tickets/{oid}" not in tech.get("/portal/").text
    assert f"/portal/tickets/{oid}" in ours.admin.get("/portal/").text


def test_a_technician_sees_work_once_it_is_given_to_them(
    companies: tuple[Company, Company],
) -> None:
    # Given accepted work and a technician
    ours, _ = companies
    oid = ours.outsource(title="Rack the new server")
    ours.accept(oid)
    tech = ours.colleague("Tina Tech")
    assert tech.get(f"/portal/tickets/{oid}").status_code == 404
    # When the admin gives it to the technician
    given = ours.admin.post(f"/portal/tickets/{oid}/reassign", {"assignee_id": _tina()})
    # Then the technician lists it, opens it and may add to it
    assert given.status_code == 303
    assert "Rack the new server" in tech.get("/portal/").text
    assert tech.get(f"/portal/tickets/{oid}").status_code == 200
    assert tech.post(f"/portal/tickets/{oid}/notes", {"text": "On it"}).status_code == 303
    # But not accept other work, nor see the users page
    assert tech.get("/portal/users").status_code == 403
    assert tech.get("/portal/", view="all").status_code == 400


def _tina() -> str:
    user = get_container().portal_users.find_by_email("tina.tech@fieldtechsltd.example")
    assert user is not None
    return user.user_id
