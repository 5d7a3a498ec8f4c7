"""Every key string of the table: partition and sort keys, and the index keys that serve lists.

Every partition key starts with the owning tenant (``T#<tenant>``; a subcontractor company owns
its data the same way, ``T#<company>``), so no query can cross owners by accident. The
exceptions are read before any owner is known or by the system only: the expiry index
(``EXPIRY#<day>``, the expiry job), the email a portal user signs in with (``P#EMAIL#...``),
the sign-in throttles (``P#THROTTLE#...``) and the download links of forwarded emails
(``P#FILE#<sha256 of token>``: the unauthenticated ``GET /files/{token}`` knows only the token;
the record names the owning tenant, ticket and attachment).

=================  ==============================  ==========================
record             pk                              sk
=================  ==============================  ==========================
tenant             ``T#<tenant>``                  ``TENANT``
api key            ``T#<tenant>``                  ``KEY#<key id>``
invitation         ``T#<lead>``                    ``INVITATION#<invitation id>``
partnership        ``T#<tenant>`` (each side)       ``PARTNERSHIP#<partnership id>``
partner pair       ``T#<lead>``                    ``PAIR#<service tenant>``
outsourcing        ``T#<owner>`` (each side)        ``OUTSOURCING#<outsourcing id>``
status counts      ``T#<owner>``                   ``OUTCOUNT#<side>``
fee                ``T#<lead>``                    ``FEE#<outsourcing id>``
fee month total    ``T#<lead>``                    ``FEETOTAL#<yyyy-mm>``
notification       ``T#<party told>``              ``NOTIFY#<outsourcing>#<n>#<side>``
counter            ``T#<tenant>``                  ``COUNTER#TICKET|MAIL#<yyyymmdd>``
idempotency        ``T#<tenant>``                  ``IDEM#<sha256 of key>``
subcontractor      ``T#<lead>``                    ``SUBCONTRACTOR#<subcontractor id>``
company            ``T#<company>``                 ``COMPANY``
portal user        ``T#<company>``                 ``USER#<user id>``
one-time link      ``T#<company>``                 ``LINK#<user id>#<purpose>``
portal session     ``T#<company>``                 ``SESSION#<session id>``
email claim        ``P#EMAIL#<email>``             ``EMAIL``
sign-in throttle   ``P#THROTTLE#<sha256 of key>``  ``THROTTLE``
change log head    ``T#<tenant>``                  ``COUNTER#CHANGES``
change entry       ``T#<tenant>#CHANGES``          ``<sequence, 20 digits>``
change marker      ``T#<tenant>#CHANGESEEN#<sha>`` ``SEEN``
network            ``T#<tenant>``                  ``NETWORK#<network id>``
file link          ``P#FILE#<sha256 of token>``    ``FILE``
ticket             ``T#<tenant>#TK#<ticket>``       ``TICKET``
item (4 kinds)     ``T#<tenant>#TK#<ticket>``       ``ITEM#<item id>``
=================  ==============================  ==========================

Indexes (each sorted by id, so newest first is a backwards Query): ``gsi1`` a tenant's tickets,
partnerships by role, outsourcings by side; ``gsi2`` tickets by status, outsourcings by side and
status; ``gsi3`` tickets by queue, and (sparse) assigned outsourcings by accept-by day. Fees
are on ``gsi1`` by month, sorted by acceptance time (oldest first is a forwards Query).
Notifications sit with the party told (its addresses never leave its partition) and are on
``gsi1`` in the lead's log and on ``gsi2`` in the receiving tenant's log, by transition time;
one waiting for another attempt is also on ``gsi3`` (``NOTIFY#RETRY``, by retry time).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

TENANT_SK = "TENANT"
TICKET_SK = "TICKET"

KEY_PREFIX = "KEY#"
INVITATION_PREFIX = "INVITATION#"
PARTNERSHIP_PREFIX = "PARTNERSHIP#"
OUTSOURCING_PREFIX = "OUTSOURCING#"
ITEM_PREFIX = "ITEM#"
FEE_PREFIX = "FEE#"
NOTIFICATION_PREFIX = "NOTIFY#"
SUBCONTRACTOR_PREFIX = "SUBCONTRACTOR#"
PORTAL_USER_PREFIX = "USER#"
COMPANY_SK = "COMPANY"
PORTAL_EMAIL_SK = "EMAIL"
THROTTLE_SK = "THROTTLE"
CHANGE_COUNTER_SK = "COUNTER#CHANGES"
CHANGE_SEEN_SK = "SEEN"
NETWORK_PREFIX = "NETWORK#"
FILE_LINK_SK = "FILE"


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def ticket_pk(tenant_id: str, ticket_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#TK#{ticket_id}"


def ticket_pk_prefix(tenant_id: str) -> str:
    """What every ticket partition key of the tenant starts with."""
    return f"{tenant_pk(tenant_id)}#TK#"


def changes_pk(tenant_id: str) -> str:
    """The tenant's change log: one partition, sorted by sequence."""
    return f"{tenant_pk(tenant_id)}#CHANGES"


def change_seen_pk(tenant_id: str, digest: str) -> str:
    """A stream record already logged in the tenant's feed (one partition per marker)."""
    return f"{tenant_pk(tenant_id)}#CHANGESEEN#{digest}"


def key_sk(key_id: str) -> str:
    return KEY_PREFIX + key_id


def invitation_sk(invitation_id: str) -> str:
    return INVITATION_PREFIX + invitation_id


def partnership_sk(partnership_id: str) -> str:
    return PARTNERSHIP_PREFIX + partnership_id


def pair_sk(service_tenant_id: str) -> str:
    return f"PAIR#{service_tenant_id}"


def outsourcing_sk(outsourcing_id: str) -> str:
    return OUTSOURCING_PREFIX + outsourcing_id


def status_count_sk(side: str) -> str:
    return f"OUTCOUNT#{side}"


def ticket_counter_sk(day: date) -> str:
    return f"COUNTER#TICKET#{day:%Y%m%d}"


def mail_counter_sk(day: date) -> str:
    """The tenant's outbound emails of one UTC day."""
    return f"COUNTER#MAIL#{day:%Y%m%d}"


def idempotency_sk(key: str) -> str:
    """The client's key is hashed: it is chosen by the client and may be long or odd."""
    return "IDEM#" + hashlib.sha256(key.encode()).hexdigest()


def item_sk(item_id: str) -> str:
    return ITEM_PREFIX + item_id


def subcontractor_sk(subcontractor_id: str) -> str:
    return SUBCONTRACTOR_PREFIX + subcontractor_id


def portal_user_sk(user_id: str) -> str:
    return PORTAL_USER_PREFIX + user_id


def one_time_link_sk(user_id: str, purpose: str) -> str:
    return f"LINK#{user_id}#{purpose}"


def session_sk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def portal_email_pk(email: str) -> str:
    """The claim of a (lower-case) email by one portal user."""
    return f"P#EMAIL#{email.lower()}"


def throttle_pk(key: str) -> str:
    """Failed sign-ins of one email or client (hashed: the key is user input)."""
    return "P#THROTTLE#" + hashlib.sha256(key.encode()).hexdigest()


def network_sk(network_id: str) -> str:
    return NETWORK_PREFIX + network_id


def file_link_pk(token_hash: str) -> str:
    """A forwarded email's download link, found by the SHA-256 of its token (never the token)."""
    return f"P#FILE#{token_hash}"


# -- index keys --------------------------------------------------------------------------------


def tickets_of(tenant_id: str) -> str:
    """gsi1: every ticket of the tenant."""
    return f"{tenant_pk(tenant_id)}#TICKETS"


def tickets_by_status(tenant_id: str, status: str) -> str:
    """gsi2: the tenant's tickets in one status."""
    return f"{tickets_of(tenant_id)}#S#{status}"


def tickets_by_queue(tenant_id: str, queue: str) -> str:
    """gsi3: the tenant's tickets in one queue."""
    return f"{tickets_of(tenant_id)}#Q#{queue}"


def partners_by_role(tenant_id: str, role: str) -> str:
    """gsi1: the tenant's partnerships in which the other tenant has ``role``."""
    return f"{tenant_pk(tenant_id)}#PARTNERS#{role}"


def outsourcings_of(owner_id: str, side: str) -> str:
    """gsi1: the owner's outsourcing copies on one side."""
    return f"{tenant_pk(owner_id)}#OUTS#{side}"


def outsourcings_by_status(owner_id: str, side: str, status: str) -> str:
    """gsi2: the owner's outsourcing copies on one side in one status."""
    return f"{outsourcings_of(owner_id, side)}#S#{status}"


def outsourcings_assigned_to(owner_id: str, user_id: str) -> str:
    """gsi3 (sparse): a subcontractor company's copies assigned to one of its portal users."""
    return f"{tenant_pk(owner_id)}#OUTS#ASSIGNEE#{user_id}"


def expiry_day(moment: datetime) -> str:
    """gsi3 (sparse): assigned lead copies whose accept-by deadline falls on that UTC day."""
    return f"EXPIRY#{moment.astimezone(UTC):%Y%m%d}"


def expiry_sort(accept_by: datetime, owner_id: str, outsourcing_id: str) -> str:
    return f"{accept_by.astimezone(UTC).isoformat()}#{owner_id}#{outsourcing_id}"


def expiry_until(moment: datetime) -> str:
    """The highest expiry sort key at or before ``moment``."""
    return f"{moment.astimezone(UTC).isoformat()}#~"


def fee_sk(outsourcing_id: str) -> str:
    """A fee is keyed by its acceptance: one outsourcing, accepted once."""
    return FEE_PREFIX + outsourcing_id


def fee_total_sk(month: str) -> str:
    """The count and sum of a tenant's fees of one month (``yyyy-mm``)."""
    return f"FEETOTAL#{month}"


def fees_of_month(tenant_id: str, month: str) -> str:
    """gsi1: the tenant's fees of one month (``yyyy-mm``)."""
    return f"{tenant_pk(tenant_id)}#FEES#{month}"


def fee_sort(accepted_at: datetime, outsourcing_id: str) -> str:
    """gsi1 sort key of a fee: its acceptance time, fixed width so text order is time order."""
    return f"{accepted_at.astimezone(UTC).isoformat(timespec='microseconds')}#{outsourcing_id}"


def notification_sk(outsourcing_id: str, transition: int, side: str) -> str:
    """A notification is keyed by its transition (the history entry's index) and the side told:
    claimed once, sent at most once."""
    return f"{NOTIFICATION_PREFIX}{outsourcing_id}#{transition:04d}#{side}"


def notifications_of(tenant_id: str, side: str) -> str:
    """gsi1 (the lead's log) or gsi2 (the receiving tenant's log): notifications of the
    tenant's outsourcings on one side."""
    return f"{tenant_pk(tenant_id)}#NOTIFICATIONS#{side}"


def notification_sort(at: datetime, outsourcing_id: str, transition: int, side: str) -> str:
    """Log order: the transition's time, fixed width so text order is time order."""
    moment = at.astimezone(UTC).isoformat(timespec="microseconds")
    return f"{moment}#{outsourcing_id}#{transition:04d}#{side}"


# The sparse gsi3 partition of notifications waiting for another attempt, by retry time.
NOTIFICATION_RETRIES = "NOTIFY#RETRY"


def notification_retry_sort(retry_at: datetime, pk: str, sk: str) -> str:
    return f"{retry_at.astimezone(UTC).isoformat(timespec='microseconds')}#{pk}#{sk}"


def notification_retry_until(now: datetime) -> str:
    """Upper bound of the retry times that have come (``~`` sorts after every key character)."""
    return f"{now.astimezone(UTC).isoformat(timespec='microseconds')}#~"
