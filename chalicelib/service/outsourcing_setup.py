"""Outsourcing set-up: the Outsource Agreement and the tenant's outsourcing settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain import agreement
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.notifications import check_addresses
from chalicelib.domain.tenants import (
    INVITATION_PLACEHOLDERS,
    AgreementAcceptance,
    Tenant,
)
from chalicelib.observability import count, logger
from chalicelib.ports import TenantRepository
from chalicelib.service.concurrency import retry_on_conflict
from chalicelib.service.email_templates import check_template

SETTING_FIELDS = frozenset(
    {"invitation_subject", "invitation_template", "invitation_expiry_days", "notifications"}
)


def accept_agreement(
    tenants: TenantRepository, tenant_id: str, *, version: str, accepted_by: str, now: datetime
) -> Tenant:
    """Record who accepted which version when. Only the current version can be accepted."""
    agreement.ensure_current_version(version)
    acceptance = AgreementAcceptance(by=accepted_by, at=now, version=version)
    updated = retry_on_conflict(
        lambda current: tenants.update(current, {"agreement": acceptance}),
        first=tenants.get(tenant_id),
        reload=lambda: tenants.get(tenant_id),
    )
    logger.info("agreement accepted", extra={"tenant_id": tenant_id, "version": version})
    count("AgreementAccepted")
    return updated


def update_settings(
    tenants: TenantRepository, tenant_id: str, changes: Mapping[str, Any]
) -> Tenant:
    """Change the enabled switch, the invitation email settings and/or who is notified of
    which outsourcing event."""
    setting_changes = {k: v for k, v in changes.items() if k in SETTING_FIELDS}
    for name, value in changes.items():
        if value is None:
            raise ValidationError(f"'{name}' cannot be null.", field=name)
    if "invitation_template" in setting_changes:
        check_template(
            setting_changes["invitation_template"],
            field="invitation_template",
            allowed=INVITATION_PLACEHOLDERS,
            required=frozenset({"token"}),
        )
    if "invitation_subject" in setting_changes:
        check_template(
            setting_changes["invitation_subject"],
            field="invitation_subject",
            allowed=INVITATION_PLACEHOLDERS - {"token"},
        )

    if "notifications" in setting_changes:
        setting_changes["notification_addresses"] = check_addresses(
            setting_changes.pop("notifications"), field="notifications"
        )

    def apply(current: Tenant) -> Tenant:
        update: dict[str, Any] = {}
        if "enabled" in changes:
            update["outsourcing_enabled"] = changes["enabled"]
        if setting_changes:
            update["settings"] = dataclasses.replace(current.settings, **setting_changes)
        return tenants.update(current, update) if update else current

    tenant = tenants.get(tenant_id)
    updated = retry_on_conflict(apply, first=tenant, reload=lambda: tenants.get(tenant_id))
    logger.info("outsourcing settings changed", extra={"tenant_id": tenant_id})
    return updated
