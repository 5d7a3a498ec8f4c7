"""The month's fees as a CSV file: RFC 4180, safe to open in a spreadsheet, totals that add up."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.api.models.billing import CSV_HEADER, csv_file_name, fees_csv, safe_cell
from chalicelib.domain.fees import CurrencyTotal, FeeRecord, Month, MonthTotal
from chalicelib.domain.ids import new_id
from chalicelib.service.fees import FeeStatement

TENANT = new_id()
NOVEMBER = Month(2026, 11)
AT = datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)


def _fee(company_name: str = "Field Techs Ltd", **fields: object) -> FeeRecord:
    base: dict[str, object] = {
        "tenant_id": TENANT,
        "outsourcing_id": new_id(),
        "subcontractor_id": new_id(),
        "company_id": new_id(),
        "company_name": company_name,
        "accepted_at": AT,
        "amount": Decimal("12.5"),
        "currency": "EUR",
    }
    return FeeRecord(**{**base, **fields})  # type: ignore[arg-type]


def _statement(*fees: FeeRecord, totals: tuple[CurrencyTotal, ...] = ()) -> FeeStatement:
    if not totals and fees:
        amount = sum((f.amount for f in fees), Decimal(0))
        totals = (CurrencyTotal(fees[0].currency, len(fees), amount),)
    return FeeStatement(
        tenant_id=TENANT,
        month=NOVEMBER,
        fees=list(fees),
        next_cursor=None,
        totals=MonthTotal(TENANT, NOVEMBER, totals),
        currency="EUR",
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_file_has_a_header_one_row_per_fee_and_a_total_row() -> None:
    # Given a month of two fees
    first, second = _fee(), _fee(amount=Decimal("0.0001"), accepted_at=AT + timedelta(days=1))
    # When it is exported
    text = fees_csv(_statement(first, second))
    # Then a CSV reader finds the header, the fees in order, and the total
    rows = _rows(text)
    assert text.startswith(",".join(CSV_HEADER) + "\r\n")
    assert [r["record"] for r in rows] == ["fee", "fee", "total"]
    assert rows[0] == {
        "record": "fee",
        "outsourcing_id": first.outsourcing_id,
        "accepted_at": "2026-11-25T14:30:05.000Z",
        "subcontractor_id": first.subcontractor_id,
        "company_id": first.company_id,
        "company_name": "Field Techs Ltd",
        "count": "1",
        "amount": "12.50",
        "currency": "EUR",
        "fee_plan_set": "true",
    }
    assert rows[1]["amount"] == "0.0001"
    assert (rows[2]["count"], rows[2]["amount"], rows[2]["currency"]) == ("2", "12.5001", "EUR")
    # And the total row adds up to the fee rows
    fee_rows = rows[:2]
    assert sum(int(r["count"]) for r in fee_rows) == int(rows[2]["count"])
    assert sum(Decimal(r["amount"]) for r in fee_rows) == Decimal(rows[2]["amount"])


def test_every_line_ends_with_crlf() -> None:
    text = fees_csv(_statement(_fee(), _fee()))
    lines = text.split("\r\n")
    assert lines[-1] == ""  # the last line ends too
    assert len(lines) == 1 + 2 + 1 + 1
    assert "\n" not in text.replace("\r\n", "")


@pytest.mark.parametrize(
    "name",
    [
        'The "Best" Techs',
        "Smith, Jones & Co",
        "Line one\nline two",
        "Carriage\rreturn",
        "Crlf\r\ninside",
        "Müller Søn 東京",
    ],
)
def test_company_names_come_back_exactly_however_odd(name: str) -> None:
    # Given a fee whose company name has quotes, commas, line breaks or non-ASCII letters
    text = fees_csv(_statement(_fee(name)))
    # Then a CSV reader reads the name back exactly, in a row of its own
    rows = _rows(text)
    assert [r["record"] for r in rows] == ["fee", "total"]
    assert rows[0]["company_name"] == name


def test_quotes_are_doubled_and_fields_with_specials_are_quoted() -> None:
    text = fees_csv(_statement(_fee('Say "hi", then\nleave')))
    assert '"Say ""hi"", then\nleave"' in text
    # And a plain field is not quoted for nothing
    plain = fees_csv(_statement(_fee("Plain Name")))
    assert ",Plain Name," in plain


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("Safe = name", "Safe = name"),
        ("'Quoted already", "'Quoted already"),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_neutralised(
    name: str, shown: str
) -> None:
    # Given a company name that starts like a formula
    rows = _rows(fees_csv(_statement(_fee(name))))
    # Then the cell starts with a quote mark, so it is shown as text
    assert rows[0]["company_name"] == shown
    assert safe_cell(name) == shown


def test_each_currency_has_its_total_row_and_an_empty_month_one_zero_row() -> None:
    # Given a month whose fees are in two currencies
    eur, usd = _fee(amount=Decimal(5)), _fee(amount=Decimal("7.25"), currency="USD")
    totals = (CurrencyTotal("EUR", 1, Decimal(5)), CurrencyTotal("USD", 1, Decimal("7.25")))
    rows = _rows(fees_csv(_statement(eur, usd, totals=totals)))
    # Then there is one total row per currency
    assert [(r["record"], r["count"], r["amount"], r["currency"]) for r in rows[2:]] == [
        ("total", "1", "5.00", "EUR"),
        ("total", "1", "7.25", "USD"),
    ]
    # And a month without fees has the header and a zero total in the tenant's fee currency
    empty = _rows(fees_csv(_statement()))
    assert [(r["record"], r["count"], r["amount"], r["currency"]) for r in empty] == [
        ("total", "0", "0.00", "EUR")
    ]


def test_a_fee_without_a_plan_or_relationship_has_empty_and_false_cells() -> None:
    fee = _fee(subcontractor_id=None, amount=Decimal(0), fee_plan_set=False)
    (row, _) = _rows(fees_csv(_statement(fee)))
    assert (row["subcontractor_id"], row["amount"], row["fee_plan_set"]) == ("", "0.00", "false")


def test_the_file_is_named_after_the_tenant_and_the_month() -> None:
    assert csv_file_name(_statement()) == f"fees-{TENANT}-2026-11.csv"
