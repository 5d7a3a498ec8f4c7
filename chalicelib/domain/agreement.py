"""The Outsource Agreement and the rule that gates outsourcing on it.

Outsourcing (inviting partners, adding subcontractors or networks, outsourcing tickets) needs both
the tenant's ``enabled`` setting and an acceptance of the *current* agreement version by an ``all``
credential. Insourcing (accepting invitations and received work) needs neither.

When a new version is published, earlier acceptances no longer count: the tenant keeps its record
of who accepted what, but must accept the new text before outsourcing again.
"""

from __future__ import annotations

from chalicelib.domain.errors import ConflictError, RuleViolationError
from chalicelib.domain.tenants import Tenant

CURRENT_VERSION = "2026-11-01"

TEXT = """OUTSOURCE AGREEMENT (version 2026-11-01)

1. Purpose. This agreement governs how your organisation hands tickets to other service
   providers (partners), to subcontractors working through the Subcontractor Portal, and to
   network members and vendors, using this service.
2. Responsibility. You remain responsible to your end customer for work you outsource. You choose
   what you share: internal notes, time entries, charges and attachments never leave your tenant.
3. Data. Ticket data you outsource (title, description, instructions, end-customer organisation,
   contact and site, and non-internal items) is copied into the receiving tenant or shown in the
   Subcontractor Portal. You confirm you may share it with the receiver.
4. Fees. Each acceptance of a ticket through the Subcontractor Portal is a metered fee charged to
   you according to your fee plan. Partner and network outsourcing carry no fee.
5. Conduct. You will only invite organisations you have a business relationship with, and you will
   not use invitations or forwarding to send unsolicited messages.
6. Changes. New versions of this agreement must be accepted before you outsource again.
"""


def is_accepted(tenant: Tenant) -> bool:
    return tenant.agreement is not None and tenant.agreement.version == CURRENT_VERSION


def ensure_outsourcing_allowed(tenant: Tenant) -> None:
    """Refuse (422) to outsource, invite or add receivers until the set-up is complete."""
    if not is_accepted(tenant):
        raise RuleViolationError(
            "Outsourcing needs the current Outsource Agreement to be accepted by a user with the "
            "'all' permission (POST /v1/outsourcing/agreement/accept).",
            code="agreement_required",
        )
    if not tenant.outsourcing_enabled:
        raise RuleViolationError(
            "Outsourcing is switched off for this tenant (PUT /v1/outsourcing/settings).",
            code="outsourcing_disabled",
        )


def outsourcing_allowed(tenant: Tenant) -> bool:
    return is_accepted(tenant) and tenant.outsourcing_enabled


def ensure_current_version(version: str) -> None:
    """Accepting is only possible for the text the caller has seen: the current version (409)."""
    if version != CURRENT_VERSION:
        raise ConflictError(
            f"Version '{version}' is not the current Outsource Agreement "
            f"('{CURRENT_VERSION}'); read it again and accept that version.",
            code="agreement_outdated",
            field="version",
        )
