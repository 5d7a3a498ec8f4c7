"""The interfaces the service layer needs. Adapters implement them; tests pass fakes.

Repositories speak domain objects only and raise domain errors (``NotFoundError``,
``ConflictError``) rather than storage exceptions. The interfaces are grouped by area in this
package's modules (``common``, ``accounts``, ``work``, ``portal``, ``fees``,
``notifications``, ``changes``, ``networks``) and all importable from here.
"""

from __future__ import annotations

from chalicelib.ports.accounts import (
    ApiKeyRepository,
    InvitationRepository,
    PartnershipRepository,
    TenantRepository,
)
from chalicelib.ports.changes import (
    ChangeLog,
    ChangeLogRaceError,
)
from chalicelib.ports.common import (
    DeadLetter,
    DeadLetterQueue,
    Email,
    FileStore,
    IdempotencyRecord,
    IdempotencyStore,
    Mailer,
    MailNotSentError,
    MailQuota,
    MailRejectedError,
    Page,
    Paging,
    PresignedUpload,
    StoredResponse,
    StreamRead,
    StreamReader,
)
from chalicelib.ports.fees import (
    FeeRepository,
)
from chalicelib.ports.networks import (
    FileLinkRepository,
    NetworkRepository,
)
from chalicelib.ports.notifications import (
    NotificationRepository,
)
from chalicelib.ports.portal import (
    IdentityProvider,
    PortalUserRepository,
    SessionStore,
    SignInThrottle,
    SubcontractorRepository,
    ThrottleRule,
)
from chalicelib.ports.work import (
    CopyFilter,
    ItemRepository,
    OutsourcingRepository,
    TicketChange,
    TicketRepository,
    TransitionPlan,
)

__all__ = [
    "ApiKeyRepository",
    "ChangeLog",
    "ChangeLogRaceError",
    "CopyFilter",
    "DeadLetter",
    "DeadLetterQueue",
    "Email",
    "FeeRepository",
    "FileLinkRepository",
    "FileStore",
    "IdempotencyRecord",
    "IdempotencyStore",
    "IdentityProvider",
    "InvitationRepository",
    "ItemRepository",
    "MailNotSentError",
    "MailQuota",
    "MailRejectedError",
    "Mailer",
    "NetworkRepository",
    "NotificationRepository",
    "OutsourcingRepository",
    "Page",
    "Paging",
    "PartnershipRepository",
    "PortalUserRepository",
    "PresignedUpload",
    "SessionStore",
    "SignInThrottle",
    "StoredResponse",
    "StreamRead",
    "StreamReader",
    "SubcontractorRepository",
    "TenantRepository",
    "ThrottleRule",
    "TicketChange",
    "TicketRepository",
    "TransitionPlan",
]
