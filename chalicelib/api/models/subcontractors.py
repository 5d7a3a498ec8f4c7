"""Subcontractors, as the lead manages them."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.api.models.base import EmailAddress, Name, RequestModel, ResponseModel
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.subcontractors import SubcontractorLink
from chalicelib.ports import Page
from chalicelib.service.subcontractors import AddedSubcontractor


class SubcontractorCreate(RequestModel):
    company_name: Name
    admin_email: EmailAddress = Field(
        description="The company administrator's address (an existing portal administrator's "
        "address links their company instead of creating one)."
    )


class _SubcontractorFields(ResponseModel):
    subcontractor_id: str
    company_name: str
    admin_email: str
    status: str
    created_at: str
    deactivated_at: str | None


def _fields(link: SubcontractorLink) -> dict[str, Any]:
    return {
        "subcontractor_id": link.subcontractor_id,
        "company_name": link.company_name,
        "admin_email": link.admin_email,
        "status": link.status.value,
        "created_at": iso(link.created_at),
        "deactivated_at": iso_or_none(link.deactivated_at),
    }


class SubcontractorOut(_SubcontractorFields):
    @classmethod
    def of(cls, link: SubcontractorLink) -> SubcontractorOut:
        return cls(**_fields(link))


class SubcontractorCreated(_SubcontractorFields):
    activation_url: str | None = Field(
        description="The admin's one-time activation link: shown only in this first response "
        "(also emailed), stored only as a hash; null when an existing company was linked or the "
        "response is an Idempotency-Key replay."
    )

    @classmethod
    def of(cls, added: AddedSubcontractor) -> SubcontractorCreated:
        return cls(**_fields(added.link), activation_url=added.activation_url)


class SubcontractorList(ResponseModel):
    items: list[SubcontractorOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[SubcontractorLink]) -> SubcontractorList:
        return cls(items=[SubcontractorOut.of(s) for s in page.items], next_cursor=page.next_cursor)
