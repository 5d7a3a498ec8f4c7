"""Scheduled jobs (one Lambda each): the system's own transitions that no request triggers."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow
from chalicelib.service.notifications import retry_due
from chalicelib.service.outsourcing import expire_due

jobs = Blueprint(__name__)


@jobs.schedule(Rate(1, unit=Rate.MINUTES), name="expire_outsourcings")
def expire_outsourcings(event: CloudWatchEvent) -> dict[str, Any]:
    """Expire assigned outsourcings whose accept-by deadline has passed (every minute)."""
    return {"expired": expire_due(get_container().outsourcing_ports, utcnow())}


@jobs.schedule(Rate(1, unit=Rate.MINUTES), name="retry_notifications")
def retry_notifications(event: CloudWatchEvent) -> dict[str, Any]:
    """Send again the notifications SES did not take, once their retry time has come (every
    minute)."""
    return {"retried": retry_due(get_container().notification_ports, utcnow())}
