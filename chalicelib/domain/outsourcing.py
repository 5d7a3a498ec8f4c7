"""Outsourcing states (lead side "outsource status", receiver side "insource status")."""

from __future__ import annotations

import enum


class OutsourceStatus(enum.StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETE = "complete"
    DECLINED = "declined"
    CANCELED = "canceled"
    EXPIRED = "expired"
    RECALLED = "recalled"
    FORWARDED = "forwarded"
