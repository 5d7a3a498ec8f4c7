"""Portal forms and budgets: bad input on every form is a readable 400 page naming the field
(never a 500), and a portal page costs one Query per list and a fixed number of GetItems,
however much work the company holds."""

from __future__ import annotations

import pytest

from chalicelib.container import get_container
from tests.bench.counting import count_dynamodb
from tests.integration.conftest import Harness
from tests.integration.portal_support import (
    FORM_TYPE,
    PASSWORD,
    Browser,
    Company,
    add_company,
    sent_links,
    token_of,
)

# Signed-in forms: path (oid: work awaiting acceptance, aid: accepted work), bad fields, the
# field the page must name.
BAD_ACTIONS: list[tuple[str, dict[str, str], str]] = [
    ("/portal/tickets/{oid}/decline", {"reason": ""}, "Reason"),
    ("/portal/tickets/{oid}/accept", {"extra": "1"}, "extra"),
    ("/portal/tickets/{aid}/reassign", {"assignee_id": "nobody"}, "Colleague"),
    ("/portal/tickets/{aid}/reassign", {}, "Colleague"),
    ("/portal/tickets/{aid}/notes", {"text": "   "}, "Note"),
    ("/portal/tickets/{aid}/notes", {"text": "x", "internal": "maybe"}, "Internal"),
    (
        "/portal/tickets/{aid}/time-entries",
        {"date": "2026-12-01", "hours_worked": "abc"},
        "Hours worked",
    ),
    ("/portal/tickets/{aid}/time-entries", {"date": "yesterday", "hours_worked": "1"}, "Date"),
    (
        "/portal/tickets/{aid}/time-entries",
        {"date": "2026-12-01", "hours_worked": "25"},
        "Hours worked",
    ),
    (
        "/portal/tickets/{aid}/time-entries",
        {"date": "2026-12-01", "hours_worked": "NaN"},
        "Hours worked",
    ),
    ("/portal/tickets/{aid}/charges", {"name": "Cable", "quantity": "-1"}, "Quantity"),
    ("/portal/tickets/{aid}/charges", {"name": "", "quantity": "1"}, "Name"),
    (
        "/portal/tickets/{aid}/charges",
        {"name": "C", "quantity": "1", "unit_price": "1e400"},
        "Unit price",
    ),
    (
        "/portal/tickets/{aid}/attachments",
        {"file_name": "a.pdf", "content_type": "application/pdf", "size": "x"},
        "Size in bytes",
    ),
    (
        "/portal/tickets/{aid}/attachments",
        {"file_name": "a.exe", "content_type": "application/x-msdownload", "size": "3"},
        "File type",
    ),
    (
        "/portal/tickets/{aid}/attachments",
        {"file_name": "a.pdf", "content_type": "not a type", "size": "3"},
        "File type",
    ),
    ("/portal/tickets/{aid}/submit-completion", {"now": "1"}, "now"),
    ("/portal/users", {"name": "Ann", "email": "not-an-email"}, "Email"),
    ("/portal/users", {"name": "", "email": "ann@example.com"}, "Name"),
    ("/portal/users/{uid}/roles", {"admin": "perhaps"}, "Administrator"),
    ("/portal/company", {"name": ""}, "Name"),
    ("/portal/company", {"name": "X", "website": "w" * 201}, "Website"),
    ("/portal/logout", {"x": "1"}, "x"),
]


def _ids(company: Company) -> dict[str, str]:
    waiting, accepted = company.outsource(), company.outsource()
    company.accept(accepted)
    user = get_container().portal_users.find_by_email(company.admin_email)
    assert user is not None
    return {"oid": waiting, "aid": accepted, "uid": user.user_id}


def _is_400_naming(reply_status: int, text: str, label: str) -> bool:
    return reply_status == 400 and f"<strong>{label}</strong>" in text


def test_bad_input_on_every_signed_in_form_is_a_400_page_naming_the_field(
    harness: Harness,
) -> None:
    # Given a signed-in admin with work awaiting acceptance and accepted work
    company = add_company(harness)
    ids = _ids(company)
    # When each form is sent something wrong
    wrong = []
    for path, fields, label in BAD_ACTIONS:
        reply = company.admin.post(path.format(**ids), fields)
        if not _is_400_naming(reply.status_code, reply.text, label):
            wrong.append((path, fields, reply.status_code, reply.text[-600:]))
    # Then every answer is a 400 page naming the field as the form labels it
    assert wrong == []


def test_bad_input_on_the_sessionless_forms_is_a_400_page(harness: Harness) -> None:
    # Given an activated admin, a reset link, and a browser that loaded the forms
    company = add_company(harness)
    browser = Browser(harness)
    browser.get("/portal/login")
    browser.post("/portal/reset", {"email": company.admin_email})
    token = token_of(sent_links(company.admin_email)[-1])
    cases = [
        ("/portal/login", {"email": company.admin_email}, "Password"),
        ("/portal/login", {"email": "", "password": "x"}, "Email"),
        ("/portal/reset", {"email": "nobody"}, "Email"),
        (
            "/portal/reset",
            {"token": token, "password": PASSWORD, "confirm": "other"},
            "Repeat the password",
        ),
        ("/portal/reset", {"token": token, "password": "short", "confirm": "short"}, "Password"),
        ("/portal/activate", {"token": "pl_x", "password": PASSWORD}, "Repeat the password"),
    ]
    # When each is sent something wrong
    answers = [(browser.post(path, fields), label) for path, fields, label in cases]
    # Then each is a 400 page naming the field, and the reset link still works
    assert [(r.status_code, f"<strong>{label}</strong>" in r.text) for r, label in answers] == [
        (400, True)
    ] * len(cases)
    assert browser.get("/portal/reset", token=token).status_code == 200


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (b"text=%FF%FE", ""),  # not UTF-8
        (b"text=a&text=b", ""),  # repeated
        (b"&".join(b"f%d=1" % i for i in range(60)), ""),  # too many fields
        (b"text=" + b"x" * 70000, ""),  # too large
        (b"", "?status=bogus"),
        (b"", "?view=everything"),
        (b"", "?cursor=" + "z" * 2000),
        (b"", "?cursor=eyJub3QiOiAiYSBjdXJzb3IifQ"),
        (b"", "?status=assigned&status=complete"),
    ],
)
def test_malformed_requests_are_readable_pages_never_500(
    harness: Harness, body: bytes, query: str
) -> None:
    # Given a signed-in admin with accepted work
    company = add_company(harness)
    oid = company.outsource()
    company.accept(oid)
    # When a malformed form is posted, or the list is asked for with a malformed query
    if body:
        sent = company.admin.harness.client.http.request(
            "POST",
            f"/portal/tickets/{oid}/notes",
            headers={
                **FORM_TYPE,
                "Cookie": f"portal_session={company.admin.cookies['portal_session']}",
            },
            body=body + b"&csrf=" + company.admin.csrf.encode(),
        )
        status, text = sent.status_code, (sent.body or b"").decode()
    else:
        reply = company.admin.get("/portal/" + query)
        status, text = reply.status_code, reply.text
    # Then it is a readable 400 (or 413) page
    assert status in (400, 413), text
    assert "<h1>" in text and "<!doctype html>" in text


def _count(browser: Browser, path: str) -> tuple[int, int, int]:
    with count_dynamodb() as counter:
        reply = browser.get(path)
    assert reply.status_code == 200, reply.text
    return counter.calls["Query"], counter.calls["GetItem"], counter.scans


def test_a_portal_page_costs_the_same_however_much_work_the_company_holds(
    harness: Harness,
) -> None:
    # Given a company with one accepted ticket carrying a few items
    company = add_company(harness)
    oid = company.outsource()
    company.accept(oid)
    for text in ("one", "two", "three"):
        company.admin.post(f"/portal/tickets/{oid}/notes", {"text": text})
    pages = (
        "/portal/",
        "/portal/?view=awaiting",
        "/portal/?q=switch",
        f"/portal/tickets/{oid}",
        f"/portal/tickets/{oid}/work-order",
        f"/portal/tickets/{oid}/invoice",
        "/portal/reports/summary",
        "/portal/reports/status",
        "/portal/users",
        "/portal/company",
    )
    small = {page: _count(company.admin, page) for page in pages}
    # When it holds many more tickets
    for _ in range(6):
        company.accept(company.outsource())
        company.outsource()
    large = {page: _count(company.admin, page) for page in pages}
    # Then every page makes the same requests: one Query per list, a few GetItems, no Scan
    assert large == small
    assert all(scans == 0 for _, _, scans in small.values())
    assert small["/portal/"][0] == 2  # the work, and the colleagues' names
    assert small[f"/portal/tickets/{oid}"][0] == 2  # its items, and the colleagues
    assert small["/portal/reports/status"][0] == 3  # one page per open status
    assert small["/portal/reports/summary"][0] == 1
    assert max(gets for _, gets, _ in small.values()) <= 5


@pytest.mark.parametrize(
    ("method", "path", "content_type", "status"),
    [
        ("POST", "/portal/tickets/{oid}/notes", "application/json", 415),
        ("POST", "/portal/tickets/{oid}/notes", "multipart/form-data; boundary=b", 415),
        ("POST", "/portal/tickets/{oid}/notes", None, 415),
        ("POST", "/portal/tickets/{oid}/notes", "text/plain", 415),
        ("POST", "/portal/login", "application/json; charset=utf-8", 415),
    ],
)
def test_a_form_sent_as_something_else_than_a_web_form_is_a_415_page_not_json(
    harness: Harness, method: str, path: str, content_type: str | None, status: int
) -> None:
    # Given a signed-in admin with accepted work
    company = add_company(harness)
    oid = company.outsource()
    company.accept(oid)
    headers = {"Cookie": f"portal_session={company.admin.cookies['portal_session']}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    # When a form is sent as something else than a web form (Chalice's own gate would answer
    # the API's JSON 415, telling a browser user to send JSON)
    sent = company.admin.harness.client.http.request(
        method,
        path.format(oid=oid),
        headers=headers,
        body=b"text=x&csrf=" + company.admin.csrf.encode(),
    )
    # Then it is the portal's HTML error page saying so (not the API's JSON error), and
    # nothing was added
    text = (sent.body or b"").decode()
    assert sent.status_code == status, text
    assert sent.headers["Content-Type"].startswith("text/html"), sent.headers
    assert "<!doctype html>" in text and 'role="alert"' in text
    assert "JSON" not in text and "Traceback" not in text
    assert sent.headers["X-Frame-Options"] == "DENY"
    page = company.admin.get(f"/portal/tickets/{oid}")
    assert page.status_code == 200 and "note was added" not in page.text


# Addresses the models accept (RFC 5321/6531) that the user pool refuses as a user name.
REFUSED_BY_THE_POOL = ["ts+^x@k.d.example", "ann{1}@example.com", "zoë@example.com"]


@pytest.mark.parametrize("email", REFUSED_BY_THE_POOL)
def test_an_address_the_user_pool_refuses_is_a_400_naming_the_field_not_a_500(
    harness: Harness, email: str
) -> None:
    # Given a signed-in admin, and its lead
    company = add_company(harness)
    # When the admin adds a colleague with an address the user pool will not take
    reply = company.admin.post("/portal/users", {"name": "Ann", "email": email})
    # Then it is a 400 page naming the field, and no colleague was added
    assert _is_400_naming(reply.status_code, reply.text, "Email"), reply.text[-600:]
    assert email.split("@", maxsplit=1)[0] not in company.admin.get("/portal/users").text
    # and the lead adding a company with it gets a 400 naming admin_email
    added = harness.post(
        "/v1/subcontractors", company.lead.key, {"company_name": "Other", "admin_email": email}
    )
    assert added.status_code == 400, added.json
    assert added.json["error"]["field"] == "admin_email"
