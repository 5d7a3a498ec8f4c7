"""Composition root: builds the adapters behind the ports, lazily, once per process.

Each adapter's module is imported where the adapter is first built, not with this module: a
function's cold start then loads only the adapters its first request uses (the records of the
portal, the change feed, fees, networks and notifications are not loaded to answer a note).

The HTTP and stream edges ask :func:`get_container` for the ports bundle a use case takes
(``outsourcing_ports``, ``item_ports``, ...); nothing is built at import time, AWS clients are made
on first use, and tests call :func:`reset_container` after changing the environment.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import connection
from chalicelib.config import Settings, get_settings, reset_settings
from chalicelib.domain.attachments import UploadPolicy
from chalicelib.domain.errors import NotConfiguredError
from chalicelib.ports import (
    ApiKeyRepository,
    DeadLetterQueue,
    FeeRepository,
    FileStore,
    IdempotencyStore,
    InvitationRepository,
    ItemRepository,
    Mailer,
    NotificationRepository,
    OutsourcingRepository,
    PartnershipRepository,
    PortalUserRepository,
    StreamReader,
    SubcontractorRepository,
    TenantRepository,
    TicketRepository,
)
from chalicelib.service.api_keys import AuthCache, KeyPorts
from chalicelib.service.changes import ChangePorts
from chalicelib.service.fees import FeePorts
from chalicelib.service.items import ItemPorts
from chalicelib.service.networks import FileLinks, NetworkPorts
from chalicelib.service.notifications import NotificationPorts
from chalicelib.service.outbound_mail import Allowance
from chalicelib.service.outsourcing import OutsourcingPorts
from chalicelib.service.partners import PartnerPorts
from chalicelib.service.portal_accounts import PortalPorts
from chalicelib.service.portal_work import PortalWorkPorts
from chalicelib.service.replication import ReplicationPorts
from chalicelib.service.subcontractors import PortalAccess, SubcontractorPorts


class Container:
    """The process's adapters and the ports bundles made of them, each built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        connection.bind(settings)

    # -- ports bundles, one per group of use cases --------------------------------------------

    @cached_property
    def key_ports(self) -> KeyPorts:
        return KeyPorts(keys=self.api_keys, cache=AuthCache(ttl=self.settings.auth_cache_seconds))

    @cached_property
    def item_ports(self) -> ItemPorts:
        return ItemPorts(
            tenants=self.tenants,
            tickets=self.tickets,
            items=self.items,
            files=self.files,
            upload_policy=UploadPolicy(
                max_bytes=self.settings.attachment_max_bytes,
                content_types=frozenset(t.lower() for t in self.settings.attachment_content_types),
            ),
            link_seconds=self.settings.presigned_url_seconds,
        )

    @cached_property
    def outsourcing_ports(self) -> OutsourcingPorts:
        return OutsourcingPorts(
            tenants=self.tenants,
            tickets=self.tickets,
            partnerships=self.partnerships,
            outsourcings=self.outsourcings,
            items=self.items,
            subcontractors=self.subcontractors,
        )

    @cached_property
    def network_ports(self) -> NetworkPorts:
        from chalicelib.adapters.dynamo.networks import (
            DynamoFileLinkRepository,
            DynamoNetworkRepository,
        )

        return NetworkPorts(
            networks=DynamoNetworkRepository(),
            outsourcing=self.outsourcing_ports,
            files=self.files,
            mailer=self.mailer,
            allowance=self.mail_allowance,
            links=FileLinks(
                repository=DynamoFileLinkRepository(),
                base_url=self.settings.public_api_url,
                days=self.settings.file_link_days,
            ),
        )

    @cached_property
    def portal_access(self) -> PortalAccess:
        from chalicelib.adapters.cognito import CognitoIdentityProvider

        return PortalAccess(
            identities=CognitoIdentityProvider(
                lambda: self.client("cognito-idp"),
                self.settings.user_pool_id,
                self.settings.user_pool_client_id,
            ),
            mailer=self.mailer,
            allowance=self.mail_allowance,
            portal_url=self.settings.portal_url,
        )

    @cached_property
    def subcontractor_ports(self) -> SubcontractorPorts:
        return SubcontractorPorts(
            tenants=self.tenants,
            subcontractors=self.subcontractors,
            users=self.portal_users,
            access=self.portal_access,
        )

    @cached_property
    def portal_ports(self) -> PortalPorts:
        from chalicelib.adapters.dynamo.portal import DynamoSessionStore, DynamoSignInThrottle

        return PortalPorts(
            subcontractors=self.subcontractors,
            users=self.portal_users,
            sessions=DynamoSessionStore(),
            throttle=DynamoSignInThrottle(),
            access=self.portal_access,
        )

    @cached_property
    def portal_work_ports(self) -> PortalWorkPorts:
        from chalicelib.adapters.s3 import S3FileStore

        files = self.files
        assert isinstance(files, S3FileStore)  # its upload forms can send the browser back
        return PortalWorkPorts(
            outsourcing=self.outsourcing_ports,
            items=self.item_ports,
            users=self.portal_users,
            uploads=files,
        )

    @cached_property
    def subcontractors(self) -> SubcontractorRepository:
        from chalicelib.adapters.dynamo.portal import DynamoSubcontractorRepository

        return DynamoSubcontractorRepository()

    @cached_property
    def portal_users(self) -> PortalUserRepository:
        from chalicelib.adapters.dynamo.portal import DynamoPortalUserRepository

        return DynamoPortalUserRepository()

    @cached_property
    def partner_ports(self) -> PartnerPorts:
        return PartnerPorts(
            tenants=self.tenants,
            invitations=self.invitations,
            partnerships=self.partnerships,
            mailer=self.mailer,
            allowance=self.mail_allowance,
        )

    @cached_property
    def mail_allowance(self) -> Allowance:
        from chalicelib.adapters.dynamo.tickets import DynamoMailQuota

        return Allowance(DynamoMailQuota(), self.settings.mail_per_tenant_per_day)

    @cached_property
    def replication_ports(self) -> ReplicationPorts:
        return ReplicationPorts(tickets=self.tickets, items=self.items, files=self.files)

    @cached_property
    def change_ports(self) -> ChangePorts:
        from chalicelib.adapters.dynamo.changes import DynamoChangeLog

        return ChangePorts(log=DynamoChangeLog())

    @cached_property
    def fee_ports(self) -> FeePorts:
        return FeePorts(tenants=self.tenants, fees=self.fees)

    @cached_property
    def notification_ports(self) -> NotificationPorts:
        return NotificationPorts(
            tenants=self.tenants,
            outsourcings=self.outsourcings,
            users=self.portal_users,
            notifications=self.notifications,
            mailer=self.mailer,
            allowance=self.mail_allowance,
            portal_url=self.settings.portal_url,
        )

    # -- adapters -------------------------------------------------------------------------------

    @cached_property
    def tenants(self) -> TenantRepository:
        from chalicelib.adapters.dynamo.tenants import DynamoTenantRepository

        return DynamoTenantRepository()

    @cached_property
    def api_keys(self) -> ApiKeyRepository:
        from chalicelib.adapters.dynamo.tenants import DynamoApiKeyRepository

        return DynamoApiKeyRepository()

    @cached_property
    def tickets(self) -> TicketRepository:
        from chalicelib.adapters.dynamo.tickets import DynamoTicketRepository

        return DynamoTicketRepository()

    @cached_property
    def items(self) -> ItemRepository:
        from chalicelib.adapters.dynamo.items import DynamoItemRepository

        return DynamoItemRepository()

    @cached_property
    def invitations(self) -> InvitationRepository:
        from chalicelib.adapters.dynamo.partners import DynamoInvitationRepository

        return DynamoInvitationRepository()

    @cached_property
    def partnerships(self) -> PartnershipRepository:
        from chalicelib.adapters.dynamo.partners import DynamoPartnershipRepository

        return DynamoPartnershipRepository()

    @cached_property
    def outsourcings(self) -> OutsourcingRepository:
        from chalicelib.adapters.dynamo.outsourcings import DynamoOutsourcingRepository

        return DynamoOutsourcingRepository()

    @cached_property
    def fees(self) -> FeeRepository:
        from chalicelib.adapters.dynamo.fees import DynamoFeeRepository

        return DynamoFeeRepository()

    @cached_property
    def notifications(self) -> NotificationRepository:
        from chalicelib.adapters.dynamo.notifications import DynamoNotificationRepository

        return DynamoNotificationRepository()

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        from chalicelib.adapters.dynamo.idempotency import DynamoIdempotencyStore

        return DynamoIdempotencyStore(
            self.settings.idempotency_ttl_seconds, self.settings.idempotency_lease_seconds
        )

    @cached_property
    def files(self) -> FileStore:
        from chalicelib.adapters.s3 import S3FileStore

        return S3FileStore(lambda: self.client("s3"), self.settings.bucket_name)

    @cached_property
    def mailer(self) -> Mailer:
        from chalicelib.adapters.ses import SesMailer

        return SesMailer(lambda: self.client("ses"), self.settings.mail_from)

    @cached_property
    def dead_letter_queue(self) -> DeadLetterQueue:
        from chalicelib.adapters.sqs import SqsDeadLetterQueue

        if not self.settings.dead_letter_queue_url:
            raise NotConfiguredError("DEAD_LETTER_QUEUE_URL is not set.")
        return SqsDeadLetterQueue(self.client("sqs"), self.settings.dead_letter_queue_url)

    @cached_property
    def stream_reader(self) -> StreamReader:
        from chalicelib.adapters.dynamo.stream_reader import DynamoStreamReader

        streams = aws.client(
            "dynamodbstreams", self.settings, endpoint_url=self.settings.dynamodb_endpoint
        )
        return DynamoStreamReader(streams, self.settings.region)

    def operator_token(self) -> str | None:
        from chalicelib.adapters.secrets import operator_token

        return operator_token(self.settings, lambda: self.client("ssm"))

    def client(self, service: str) -> Any:
        return aws.client(service, self.settings)


@lru_cache(maxsize=1)
def get_container() -> Container:
    """The process-wide container (built on first request, not at import)."""
    return Container(get_settings())


def reset_container() -> None:
    """Forget settings, clients, connections and caches; the next request rebuilds them."""
    get_container.cache_clear()
    reset_settings()
    aws.forget_clients()
    connection.unbind()
