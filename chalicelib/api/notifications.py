"""The notification log: "did they get the email?"."""

from __future__ import annotations

from chalicelib.api.models.notifications import NotificationList, NotificationQuery
from chalicelib.api.routing import Api, Call
from chalicelib.domain.outsourcing import Side
from chalicelib.service import notifications as service

api = Api(__name__, "notifications")


@api.route(
    "GET",
    "/v1/notifications",
    summary="Emails about the transitions of this tenant's outsourcings (side=lead) or of the "
    "work it received (side=receiver), newest first: to whom, when, sent or failed",
)
def list_notifications(call: Call[None, NotificationQuery]) -> NotificationList:
    query = call.query
    page = service.notification_log(
        call.container.notifications, call.tenant_id, Side(query.side), query.paging
    )
    return NotificationList.of(page, call.tenant_id, call.now)
