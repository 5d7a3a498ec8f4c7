"""The change feed: every change to this tenant's tickets, items and outsourcings, in order.

Any credential of the tenant may read it (``none`` included): it shows what that credential can
already read one object at a time (tickets, items, outsourcings), so following the feed needs no
more than reading them.
"""

from __future__ import annotations

from chalicelib.api.models.base import PageQuery
from chalicelib.api.models.changes import ChangeList
from chalicelib.api.routing import Api, Call
from chalicelib.service import changes as service

api = Api(__name__, "changes")


@api.route(
    "GET",
    "/v1/changes",
    summary="Changes to this tenant's tickets, items and outsourcings, oldest first, from a "
    "cursor (always returned, also at the end: poll with it); 410 cursor_expired past retention",
    errors=(410,),
)
def list_changes(call: Call[None, PageQuery]) -> ChangeList:
    page = service.read_changes(
        call.container.change_ports, call.tenant_id, call.query.paging, call.now
    )
    return ChangeList.of(page)
