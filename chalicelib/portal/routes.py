"""The portal's Blueprint with all of its routes (account pages and work pages)."""

from __future__ import annotations

from chalicelib.portal import account_routes, work_routes
from chalicelib.portal.web import blueprint

ROUTE_MODULES = (account_routes, work_routes)

__all__ = ["ROUTE_MODULES", "blueprint"]
