"""A valid request body for every request model, so route-wide tests reach the use case."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chalicelib.api import models

VALID_BODIES: dict[type[BaseModel], dict[str, Any]] = {
    models.TenantCreate: {
        "name": "Sample IT",
        "language": "en",
        "currency": "USD",
        "contact_email": "ops@sample.example",
    },
    models.ApiKeyCreate: {"name": "sample", "permission": "none"},
    models.TicketCreate: {"title": "Sample ticket"},
    models.TicketUpdate: {"title": "Changed title"},
    models.NoteCreate: {"text": "sample note"},
    models.NoteUpdate: {"text": "changed note"},
    models.TimeEntryCreate: {"date": "2026-11-24", "hours_worked": "1"},
    models.TimeEntryUpdate: {"hours_worked": "2"},
    models.ChargeCreate: {"name": "Cable", "quantity": "1"},
    models.ChargeUpdate: {"name": "Changed"},
    models.AttachmentCreate: {"file_name": "a.txt", "content_type": "text/plain", "size": 3},
    models.AttachmentUpdate: {"file_name": "b.txt"},
    models.AgreementAccept: {"version": "2026-11-01", "accepted_by": "Jane Admin"},
    models.SettingsUpdate: {"enabled": True},
    models.InvitationCreate: {"email": "partner@example.com", "company_name": "Partner IT"},
    models.InvitationToken: {"token": "pi_" + "0" * 84},
    models.MappingBody: {"queue": "Partners"},
    models.OutsourceRequest: {
        "partnership_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "terms": {
            "instructions": "Replace the switch",
            "pricing": {"type": "flat", "amount": "90"},
        },
    },
    models.ReasonBody: {"reason": "Not this week"},
}


def valid_body(model: type[BaseModel] | None) -> dict[str, Any] | None:
    if model is None:
        return None
    if model not in VALID_BODIES:
        raise AssertionError(f"add a valid sample body for {model.__name__} to samples.py")
    return VALID_BODIES[model]
