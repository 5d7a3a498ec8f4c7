"""Notifications on fakes: who is told about what, at most one email per transition and side,
what a failing mail service leaves behind, the retry schedule, and the email's content."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.events import OutsourcingChanged
from chalicelib.domain.ids import new_id
from chalicelib.domain.notifications import (
    RETRY_DELAYS,
    UNKNOWN_AFTER,
    DeliveryStatus,
    NotificationEvent,
    check_addresses,
    event_of,
    mask,
    portal_recipients,
    sides_told,
    tenant_recipients,
)
from chalicelib.domain.outsourcing import (
    TRANSITIONS,
    Event,
    HistoryEntry,
    Lane,
    OutsourceStatus,
    Outsourcing,
    Side,
    Terms,
    TicketSnapshot,
)
from chalicelib.domain.subcontractors import PortalUser, UserStatus
from chalicelib.domain.tenants import OutsourcingSettings, Tenant
from chalicelib.ports import Email, MailNotSentError, MailRejectedError
from chalicelib.service.notifications import NotificationPorts, notify_transitions, retry_due
from chalicelib.service.outbound_mail import Allowance
from tests.notification_contract import NotificationRepositoryContract
from tests.unit.fake_notifications import FakeNotificationRepository
from tests.unit.fakes import (
    FakeItemRepository,
    FakeMailer,
    FakeMailQuota,
    FakeOutsourcingRepository,
    FakePortalUserRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)

S = OutsourceStatus
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class TestFakeNotifications(NotificationRepositoryContract):
    @pytest.fixture
    def notifications(self) -> FakeNotificationRepository:
        return FakeNotificationRepository()


# -- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "event"), sorted(TRANSITIONS, key=str))
def test_every_transition_of_the_table_is_an_event_someone_is_told(
    start: OutsourceStatus, event: Event
) -> None:
    to = TRANSITIONS[(start, event)]
    entry = HistoryEntry(event=event.value, from_status=start, to_status=to, at=NOW, by=Side.LEAD)
    assert event_of(entry) is not None


def test_the_lead_completing_its_ticket_cancels_or_completes() -> None:
    def told(to: OutsourceStatus) -> NotificationEvent | None:
        entry = HistoryEntry(
            event="ticket_completed", from_status=S.ASSIGNED, to_status=to, at=NOW, by=Side.LEAD
        )
        return event_of(entry)

    assert told(S.CANCELED) is NotificationEvent.CANCELED
    assert told(S.COMPLETE) is NotificationEvent.COMPLETED


def test_forwarding_to_a_network_tells_nobody() -> None:
    entry = HistoryEntry(
        event="outsource", from_status=None, to_status=S.FORWARDED, at=NOW, by=Side.LEAD
    )
    assert event_of(entry) is None


def test_the_other_side_is_told_and_both_of_the_systems_doing() -> None:
    def entry(by: Side) -> HistoryEntry:
        return HistoryEntry(event="x", from_status=None, to_status=S.ASSIGNED, at=NOW, by=by)

    assert sides_told(entry(Side.LEAD)) == (Side.RECEIVER,)
    assert sides_told(entry(Side.RECEIVER)) == (Side.LEAD,)
    assert sides_told(entry(Side.SYSTEM)) == (Side.LEAD, Side.RECEIVER)


def test_tenant_recipients_from_the_settings_else_the_contact() -> None:
    configured = {NotificationEvent.ACCEPTED: ("a@x.example",), NotificationEvent.DECLINED: ()}
    assert tenant_recipients(NotificationEvent.ACCEPTED, configured, "Ops@X.example") == (
        "a@x.example",
    )
    assert tenant_recipients(NotificationEvent.DECLINED, configured, "ops@x.example") == ()
    assert tenant_recipients(NotificationEvent.APPROVED, configured, "Ops@X.example") == (
        "ops@x.example",
    )
    assert tenant_recipients(NotificationEvent.APPROVED, {}, "") == ()


def _user(name: str, **changes: object) -> PortalUser:
    user = PortalUser(
        company_id="c",
        user_id=new_id(),
        email=f"{name}@techs.example",
        name=name,
        status=UserStatus.ACTIVE,
        created_at=NOW,
    )
    return dataclasses.replace(user, **changes)  # type: ignore[arg-type]


def test_portal_recipients_are_the_assignee_else_who_may_accept() -> None:
    admin, dispatcher = _user("admin", admin=True), _user("desk", can_accept=True)
    tech, invited = _user("tech"), _user("new", can_accept=True, status=UserStatus.INVITED)
    gone = _user("gone", can_accept=True, status=UserStatus.DEACTIVATED)
    users = [admin, dispatcher, tech, invited, gone]
    assert portal_recipients(users, tech.user_id) == ("tech@techs.example",)
    assert portal_recipients(users, None) == (
        "admin@techs.example",
        "desk@techs.example",
        "new@techs.example",
    )
    # A deactivated assignee is not told: whoever can take the work over is
    assert portal_recipients(users, gone.user_id) == portal_recipients(users, None)
    assert portal_recipients([tech], None) == ()


def test_addresses_per_event_are_checked() -> None:
    checked = check_addresses({"accepted": ["A@x.example", "a@x.example"]}, field="n")
    assert checked == {NotificationEvent.ACCEPTED: ("a@x.example",)}
    with pytest.raises(ValidationError) as unknown:
        check_addresses({"acepted": []}, field="n")
    assert unknown.value.field == "n.acepted"
    with pytest.raises(ValidationError) as many:
        check_addresses({"expired": [f"u{i}@x.example" for i in range(11)]}, field="n")
    assert many.value.field == "n.expired"


def test_another_partys_address_is_masked() -> None:
    assert mask("jane.doe@partner.example") == "j…@partner.example"
    assert mask("nonsense") == "…"


# -- the reaction -------------------------------------------------------------------------------


class FlakyMailer(FakeMailer):
    """Fails its next sends with the given errors, then sends."""

    def __init__(self, *failures: Exception) -> None:
        super().__init__()
        self.failures = list(failures)
        self.tried = 0

    def send(self, email: Email) -> None:
        self.tried += 1
        if self.failures:
            raise self.failures.pop(0)
        super().send(email)


@dataclasses.dataclass
class World:
    ports: NotificationPorts
    notifications: FakeNotificationRepository
    mailer: FakeMailer
    lead: Tenant
    partner: Tenant


def _tenant(name: str, **settings: object) -> Tenant:
    return Tenant(
        tenant_id=new_id(),
        name=name,
        language="en",
        currency="USD",
        contact_email=f"ops@{name.lower()}.example",
        created_at=NOW,
        settings=OutsourcingSettings(**settings),  # type: ignore[arg-type]
    )


def _world(mailer: FakeMailer | None = None, per_day: int = 100) -> World:
    tenants = FakeTenantRepository()
    lead, partner = _tenant("Lead"), _tenant("Partner")
    tenants.tenants = {lead.tenant_id: lead, partner.tenant_id: partner}
    notifications = FakeNotificationRepository()
    mailer = FakeMailer() if mailer is None else mailer
    ports = NotificationPorts(
        tenants=tenants,
        outsourcings=FakeOutsourcingRepository(FakeTicketRepository(), FakeItemRepository()),
        users=FakePortalUserRepository(),
        notifications=notifications,
        mailer=mailer,
        allowance=Allowance(FakeMailQuota(), per_day),
        portal_url="https://portal.example/api/portal",
    )
    return World(ports, notifications, mailer, lead, partner)


def _copy(world: World, *entries: HistoryEntry, lane: Lane = Lane.PARTNER) -> Outsourcing:
    """The lead's copy with these history entries, stored as the retry schedule reads it."""
    copy = Outsourcing(
        owner_id=world.lead.tenant_id,
        side=Side.LEAD,
        outsourcing_id="01OUTSOURCING",
        lane=lane,
        status=entries[-1].to_status,
        lead_tenant_id=world.lead.tenant_id,
        lead_ticket_id="01LEADTICKET",
        receiver_id=world.partner.tenant_id,
        partnership_id="01PARTNERSHIP",
        terms=Terms(instructions="Bring a ladder", bill_customer_rate=Decimal("199")),
        currency="USD",
        ticket=TicketSnapshot(number="T20261120.0007", title="Backup <failed>"),
        lead_name="Lead",
        receiver_name="Partner",
        created_at=NOW,
        updated_at=NOW,
        insourced_ticket_id="01PARTNERTICKET",
        history=entries,
    )
    outsourcings = world.ports.outsourcings
    assert isinstance(outsourcings, FakeOutsourcingRepository)
    outsourcings.copies[(copy.owner_id, copy.outsourcing_id)] = copy
    return copy


ASSIGNED = HistoryEntry(
    event="outsource", from_status=None, to_status=S.ASSIGNED, at=NOW, by=Side.LEAD, actor="key-7"
)
DECLINED = HistoryEntry(
    event="decline",
    from_status=S.ASSIGNED,
    to_status=S.DECLINED,
    at=NOW + timedelta(minutes=5),
    by=Side.RECEIVER,
    actor="partner-key",
    reason="No parts in stock",
)


def test_each_new_history_entry_is_told_once() -> None:
    world = _world()
    created = _copy(world, ASSIGNED)
    declined = _copy(world, ASSIGNED, DECLINED)
    # When the creation and the decline are delivered, each twice, and a non-lead copy
    for _ in range(2):
        notify_transitions(world.ports, OutsourcingChanged(None, created))
        notify_transitions(world.ports, OutsourcingChanged(created, declined))
    receiver_copy = dataclasses.replace(declined, side=Side.RECEIVER)
    notify_transitions(world.ports, OutsourcingChanged(created, receiver_copy))
    # Then the partner heard of the assignment, the lead of the decline, once each
    assert [(e.to, e.subject) for e in world.mailer.sent] == [
        (("ops@partner.example",), "Outsourced ticket was outsourced to you: Backup <failed>"),
        (("ops@lead.example",), "Ticket T20261120.0007 was declined: Backup <failed>"),
    ]
    statuses = {(n.event, n.status) for n in world.notifications.stored.values()}
    assert statuses == {
        (NotificationEvent.ASSIGNED, DeliveryStatus.SENT),
        (NotificationEvent.DECLINED, DeliveryStatus.SENT),
    }


def test_the_email_says_what_happened_and_nothing_private() -> None:
    world = _world()
    notify_transitions(world.ports, OutsourcingChanged(None, _copy(world, ASSIGNED, DECLINED)))
    decline = world.mailer.sent[-1]
    assert decline.html is not None
    for part in (decline.text, decline.html):
        assert "No parts in stock" in part
        assert "01OUTSOURCING" in part and "01LEADTICKET" in part
        # Neither side's API key names, nor the lead's own rate for its customer
        assert "partner-key" not in part and "key-7" not in part and "199" not in part
    assert "by Partner" in decline.text
    assert "Backup &lt;failed&gt;" in decline.html and "<failed>" not in decline.html
    # The partner's email names the partner's own ticket, never the lead's
    assigned = world.mailer.sent[0]
    assert "01PARTNERTICKET" in assigned.text and "01LEADTICKET" not in assigned.text


def test_portal_users_get_a_link_to_the_portal() -> None:
    world = _world()
    company = "01COMPANY"
    users = world.ports.users
    assert isinstance(users, FakePortalUserRepository)
    users.add(_user("admin", admin=True, company_id=company))
    copy = dataclasses.replace(
        _copy(world, ASSIGNED, lane=Lane.SUBCONTRACTOR), receiver_id=company, partnership_id=None
    )
    notify_transitions(world.ports, OutsourcingChanged(None, copy))
    [email] = world.mailer.sent
    assert email.to == ("admin@techs.example",)
    assert "https://portal.example/api/portal/tickets/01OUTSOURCING" in email.text
    assert email.subject.startswith("Ticket T20261120.0007 was outsourced to you")
    [told] = world.notifications.stored.values()
    assert (told.owner_id, told.receiver_tenant_id) == (company, None)


def test_no_recipients_is_logged_and_nothing_is_sent() -> None:
    world = _world()
    tenants = world.ports.tenants
    assert isinstance(tenants, FakeTenantRepository)
    quiet = dataclasses.replace(
        world.partner,
        settings=OutsourcingSettings(notification_addresses={NotificationEvent.ASSIGNED: ()}),
    )
    tenants.tenants[quiet.tenant_id] = quiet
    notify_transitions(world.ports, OutsourcingChanged(None, _copy(world, ASSIGNED)))
    assert world.mailer.sent == []
    [told] = world.notifications.stored.values()
    assert told.status is DeliveryStatus.NO_RECIPIENTS


def test_a_refused_email_fails_for_good() -> None:
    world = _world(FlakyMailer(MailRejectedError("MessageRejected")))
    notify_transitions(world.ports, OutsourcingChanged(None, _copy(world, ASSIGNED)))
    [told] = world.notifications.stored.values()
    assert (told.status, told.error) == (DeliveryStatus.FAILED, "rejected: MessageRejected")
    assert told.retry_at is None
    assert retry_due(world.ports, NOW + timedelta(days=1)) == 0


def test_an_email_the_service_did_not_take_is_sent_later_once() -> None:
    mailer = FlakyMailer(MailNotSentError("Throttling"), MailNotSentError("Throttling"))
    world = _world(mailer)
    notify_transitions(world.ports, OutsourcingChanged(None, _copy(world, ASSIGNED)))
    # The stream reaction returned (the batch goes on); the notification waits
    [told] = world.notifications.stored.values()
    assert (told.status, told.attempts) == (DeliveryStatus.RETRYING, 1)
    assert told.retry_at == NOW + RETRY_DELAYS[0]
    # Not before its time; then a second failure waits longer; then it is sent, once
    assert retry_due(world.ports, NOW) == 0
    assert retry_due(world.ports, NOW + RETRY_DELAYS[0]) == 1
    [told] = world.notifications.stored.values()
    assert (told.status, told.attempts) == (DeliveryStatus.RETRYING, 2)
    later = NOW + RETRY_DELAYS[0] + RETRY_DELAYS[1]
    assert retry_due(world.ports, later) == 1
    assert retry_due(world.ports, later + timedelta(hours=1)) == 0
    assert len(mailer.sent) == 1 and mailer.tried == 3
    [told] = world.notifications.stored.values()
    assert told.status is DeliveryStatus.SENT


def test_an_email_never_taken_fails_after_the_last_attempt() -> None:
    failures = [MailNotSentError("ServiceUnavailable") for _ in range(len(RETRY_DELAYS) + 1)]
    mailer = FlakyMailer(*failures)
    world = _world(mailer)
    notify_transitions(world.ports, OutsourcingChanged(None, _copy(world, ASSIGNED)))
    moment = NOW
    for delay in RETRY_DELAYS:
        moment += delay
        assert retry_due(world.ports, moment) == 1
    [told] = world.notifications.stored.values()
    assert told.status is DeliveryStatus.FAILED
    assert told.error == f"not sent after {len(RETRY_DELAYS) + 1} attempts: ServiceUnavailable"
    assert retry_due(world.ports, moment + timedelta(days=1)) == 0
    assert mailer.tried == len(RETRY_DELAYS) + 1 and mailer.sent == []


def test_a_crash_while_sending_never_sends_twice_and_shows_unknown() -> None:
    # SES may have sent it: the reaction fails (the batch is retried) and nothing is resent
    world = _world(FlakyMailer(TimeoutError("read timed out")))
    copy = _copy(world, ASSIGNED)
    with pytest.raises(TimeoutError):
        notify_transitions(world.ports, OutsourcingChanged(None, copy))
    notify_transitions(world.ports, OutsourcingChanged(None, copy))
    assert retry_due(world.ports, NOW + timedelta(days=1)) == 0
    assert world.mailer.sent == []
    [told] = world.notifications.stored.values()
    assert told.status is DeliveryStatus.PENDING
    assert told.shown_status(NOW + UNKNOWN_AFTER / 2) == "pending"
    assert told.shown_status(NOW + UNKNOWN_AFTER + timedelta(seconds=1)) == "unknown"


def test_the_daily_email_limit_of_whoever_caused_it() -> None:
    world = _world(per_day=1)
    second = dataclasses.replace(ASSIGNED, at=NOW + timedelta(minutes=1))
    first_copy = _copy(world, ASSIGNED)
    other_copy = dataclasses.replace(_copy(world, second), outsourcing_id="01OTHER")
    notify_transitions(world.ports, OutsourcingChanged(None, first_copy))
    notify_transitions(world.ports, OutsourcingChanged(None, other_copy))
    # The partner's decline is counted against the partner, not the lead
    notify_transitions(
        world.ports, OutsourcingChanged(first_copy, _copy(world, ASSIGNED, DECLINED))
    )
    outcome = sorted(
        (n.outsourcing_id, n.event.value, n.status.value, n.error or "")
        for n in world.notifications.stored.values()
    )
    assert outcome == [
        ("01OTHER", "assigned", "failed", "daily email limit reached"),
        ("01OUTSOURCING", "assigned", "sent", ""),
        ("01OUTSOURCING", "declined", "sent", ""),
    ]
    assert len(world.mailer.sent) == 2


def test_the_schedule_gives_up_on_work_that_is_gone() -> None:
    world = _world(FlakyMailer(MailNotSentError("Throttling")))
    copy = _copy(world, ASSIGNED)
    notify_transitions(world.ports, OutsourcingChanged(None, copy))
    outsourcings = world.ports.outsourcings
    assert isinstance(outsourcings, FakeOutsourcingRepository)
    del outsourcings.copies[(copy.owner_id, copy.outsourcing_id)]
    assert retry_due(world.ports, NOW + timedelta(days=1)) == 1
    [told] = world.notifications.stored.values()
    assert (told.status, told.error) == (DeliveryStatus.FAILED, "the outsourcing is gone")


# -- the SES adapter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("MessageRejected", MailRejectedError),
        ("MailFromDomainNotVerifiedException", MailRejectedError),
        ("Throttling", MailNotSentError),
        ("ServiceUnavailable", MailNotSentError),
    ],
)
def test_ses_errors_say_whether_the_email_may_be_sent_again(
    code: str, raised: type[Exception]
) -> None:
    import boto3
    from botocore.stub import Stubber

    from chalicelib.adapters.ses import SesMailer

    client = boto3.client("ses", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("send_email", service_error_code=code, http_status_code=400)
    with stubber:
        mailer = SesMailer(lambda: client, "no-reply@service.example")
        with pytest.raises(raised) as caught:
            mailer.send(Email(to=("a@b.example",), subject="s", text="t"))
    assert str(caught.value) == code
