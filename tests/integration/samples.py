"""A valid request body for every request model, so route-wide tests reach the use case."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chalicelib.api.models import (
    billing,
    networks,
    outsourcing,
    partners,
    subcontractors,
    tenants,
    tickets,
)

VALID_BODIES: dict[type[BaseModel], dict[str, Any]] = {
    tenants.TenantCreate: {
        "name": "Sample IT",
        "language": "en",
        "currency": "USD",
        "contact_email": "ops@sample.example",
    },
    tenants.ApiKeyCreate: {"name": "sample", "permission": "none"},
    tickets.TicketCreate: {"title": "Sample ticket"},
    tickets.TicketUpdate: {"title": "Changed title"},
    tickets.NoteCreate: {"text": "sample note"},
    tickets.NoteUpdate: {"text": "changed note"},
    tickets.TimeEntryCreate: {"date": "2026-11-24", "hours_worked": "1"},
    tickets.TimeEntryUpdate: {"hours_worked": "2"},
    tickets.ChargeCreate: {"name": "Cable", "quantity": "1"},
    tickets.ChargeUpdate: {"name": "Changed"},
    tickets.AttachmentCreate: {"file_name": "a.txt", "content_type": "text/plain", "size": 3},
    tickets.AttachmentUpdate: {"file_name": "b.txt"},
    tenants.AgreementAccept: {"version": "2026-11-01", "accepted_by": "Jane Admin"},
    tenants.SettingsUpdate: {"enabled": True},
    partners.InvitationCreate: {"email": "partner@example.com", "company_name": "Partner IT"},
    partners.InvitationToken: {"token": "pi_" + "0" * 84},
    partners.MappingBody: {"queue": "Partners"},
    outsourcing.OutsourceRequest: {
        "partnership_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "terms": {
            "instructions": "Replace the switch",
            "pricing": {"type": "flat", "amount": "90"},
        },
    },
    outsourcing.ReasonBody: {"reason": "Not this week"},
    billing.FeePlanIn: {"amount": "2.50", "currency": "EUR"},
    subcontractors.SubcontractorCreate: {
        "company_name": "Fixit Ltd",
        "admin_email": "admin@fixit.example",
    },
    networks.NetworkCreate: {
        "name": "Vendor desk",
        "action": "email",
        "email": {
            "to": ["desk@vendor.example"],
            "subject": "Ticket {ticket_number}: {title}",
            "body": "{description}",
        },
    },
    networks.NetworkPatch: {"name": "Renamed desk"},
}


def valid_body(model: type[BaseModel] | None) -> dict[str, Any] | None:
    if model is None:
        return None
    if model not in VALID_BODIES:
        raise AssertionError(f"add a valid sample body for {model.__name__} to samples.py")
    return VALID_BODIES[model]
