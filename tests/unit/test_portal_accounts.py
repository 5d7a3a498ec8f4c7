"""Subcontractor companies, portal users, activation, sign-in, sessions and throttling, on fakes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import agreement
from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RuleViolationError,
    ValidationError,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.subcontractors import LinkPurpose, LinkStatus, UserStatus
from chalicelib.domain.tenants import Actor, AgreementAcceptance, Tenant
from chalicelib.ports import Paging
from chalicelib.service import portal_accounts as accounts
from chalicelib.service import subcontractors as subs
from chalicelib.service.outbound_mail import Allowance
from chalicelib.service.portal_accounts import NewColleague, PortalPorts, SessionPolicy
from chalicelib.service.subcontractors import AddSubcontractor, PortalAccess, SubcontractorPorts
from tests.unit.fakes import (
    FakeIdentityProvider,
    FakeMailer,
    FakeMailQuota,
    FakePortalUserRepository,
    FakeSessionStore,
    FakeSignInThrottle,
    FakeSubcontractorRepository,
    FakeTenantRepository,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "Correct-Horse-42"


@dataclass
class World:
    tenants: FakeTenantRepository = field(default_factory=FakeTenantRepository)
    users: FakePortalUserRepository = field(default_factory=FakePortalUserRepository)
    identities: FakeIdentityProvider = field(default_factory=FakeIdentityProvider)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    sessions: FakeSessionStore = field(default_factory=FakeSessionStore)
    throttle: FakeSignInThrottle = field(default_factory=FakeSignInThrottle)

    def __post_init__(self) -> None:
        self.subcontractors = FakeSubcontractorRepository(self.users)
        self.access = PortalAccess(
            identities=self.identities,
            mailer=self.mailer,
            allowance=Allowance(FakeMailQuota(), 100),
            portal_url="https://portal.example/api/portal",
        )

    @property
    def subs(self) -> SubcontractorPorts:
        return SubcontractorPorts(self.tenants, self.subcontractors, self.users, self.access)

    @property
    def portal(self) -> PortalPorts:
        return PortalPorts(
            self.subcontractors, self.users, self.sessions, self.throttle, self.access
        )

    def lead(self, name: str = "Lead IT") -> str:
        tenant = Tenant(
            tenant_id=new_id(),
            name=name,
            language="en",
            currency="EUR",
            contact_email="ops@lead.example",
            created_at=NOW,
            outsourcing_enabled=True,
            agreement=AgreementAcceptance(by="Jane", at=NOW, version=agreement.CURRENT_VERSION),
        )
        self.tenants.tenants[tenant.tenant_id] = tenant
        return tenant.tenant_id

    def add(self, lead_id: str, email: str = "Admin@Fixit.example", name: str = "Fixit Ltd"):  # type: ignore[no-untyped-def]
        return subs.add_subcontractor(
            self.subs, AddSubcontractor(Actor(lead_id, label="k"), name, email, NOW)
        )

    def activated(self, lead_id: str | None = None) -> subs.AddedSubcontractor:
        added = self.add(lead_id or self.lead())
        assert added.activation_url is not None
        token = added.activation_url.split("token=", 1)[1]
        accounts.use_link(self.portal, token, LinkPurpose.ACTIVATE, PASSWORD, NOW)
        return added


@pytest.fixture
def world() -> World:
    return World()


def _token(url: str | None) -> str:
    assert url is not None
    return url.split("token=", 1)[1]


# -- companies and their admins ----------------------------------------------------------------


def test_adding_a_subcontractor_creates_the_company_and_an_emailed_one_time_link(
    world: World,
) -> None:
    # When a lead adds a company with an admin email (in any case)
    added = world.add(world.lead())
    # Then the company, its admin (email lower-cased, not yet active) and the relationship exist
    link = added.link
    assert (link.company_name, link.admin_email, link.status) == (
        "Fixit Ltd",
        "admin@fixit.example",
        LinkStatus.ACTIVE,
    )
    admin = world.users.find_by_email("admin@fixit.example")
    assert admin is not None and admin.admin and admin.status is UserStatus.INVITED
    # And the activation link is returned and emailed, and only its hash is stored
    token = _token(added.activation_url)
    assert [e.to for e in world.mailer.sent] == [["admin@fixit.example"]]
    assert token in world.mailer.sent[0].text
    assert token not in repr(world.users.links)
    assert added.activation_url is not None
    assert added.activation_url.startswith("https://portal.example/api/portal/activate?token=")


def test_the_same_admin_email_links_the_existing_company_for_another_lead(world: World) -> None:
    first = world.add(world.lead("Lead A"))
    second = world.add(world.lead("Lead B"), email="ADMIN@fixit.example", name="Other name")
    assert second.activation_url is None
    assert second.link.company_id == first.link.company_id
    assert second.link.company_name == "Fixit Ltd"  # the company keeps its own name
    assert second.link.subcontractor_id != first.link.subcontractor_id
    assert len(world.subcontractors.companies) == 1


def test_a_technicians_email_cannot_stand_for_a_new_company(world: World) -> None:
    added = world.activated()
    signed_in = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW)
    accounts.add_user(
        world.portal,
        signed_in.signed_in,
        NewColleague("Tom", "tom@fixit.example", can_accept=False, admin=False, now=NOW),
    )
    with pytest.raises(ConflictError) as refused:
        world.add(world.lead("Lead B"), email="tom@fixit.example")
    assert refused.value.code == "email_in_use"
    assert len(world.subcontractors.links) == 1
    assert added.link.company_id in world.subcontractors.companies


def test_adding_subcontractors_needs_the_agreement(world: World) -> None:
    lead_id = world.lead()
    world.tenants.tenants[lead_id] = dataclasses.replace(
        world.tenants.tenants[lead_id], agreement=None
    )
    with pytest.raises(RuleViolationError) as refused:
        world.add(lead_id)
    assert refused.value.code == "agreement_required"


def test_leads_see_only_their_own_subcontractors_and_may_end_a_relationship(
    world: World,
) -> None:
    lead_a, lead_b = world.lead("A"), world.lead("B")
    mine = world.add(lead_a).link
    world.add(lead_b, email="someone@else.example")
    listed = subs.list_subcontractors(world.subs, lead_a, Paging(10))
    assert [s.subcontractor_id for s in listed.items] == [mine.subcontractor_id]
    with pytest.raises(NotFoundError):
        subs.get_subcontractor(world.subs, lead_b, mine.subcontractor_id)
    ended = subs.deactivate_subcontractor(world.subs, lead_a, mine.subcontractor_id, NOW)
    assert ended.status is LinkStatus.INACTIVE
    with pytest.raises(ConflictError):
        subs.deactivate_subcontractor(world.subs, lead_a, mine.subcontractor_id, NOW)


# -- activation ----------------------------------------------------------------------------------


def test_an_activation_link_sets_the_password_once(world: World) -> None:
    token = _token(world.add(world.lead()).activation_url)
    with pytest.raises(ValidationError):
        accounts.use_link(world.portal, token, LinkPurpose.ACTIVATE, "short", NOW)
    user = accounts.use_link(world.portal, token, LinkPurpose.ACTIVATE, PASSWORD, NOW)
    assert user.status is UserStatus.ACTIVE
    assert world.identities.passwords["admin@fixit.example"] == PASSWORD
    with pytest.raises(RuleViolationError) as again:
        accounts.use_link(world.portal, token, LinkPurpose.ACTIVATE, "Another-Pass-99", NOW)
    assert again.value.code == "link_invalid"
    assert world.identities.passwords["admin@fixit.example"] == PASSWORD


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t[:10],
        lambda t: "x" + t[1:],
        lambda t: t.replace(t[3:29], new_id()),
    ],
)
def test_a_forged_link_is_refused(world: World, mangle) -> None:  # type: ignore[no-untyped-def]
    token = _token(world.add(world.lead()).activation_url)
    with pytest.raises(RuleViolationError):
        accounts.use_link(world.portal, mangle(token), LinkPurpose.ACTIVATE, PASSWORD, NOW)
    with pytest.raises(RuleViolationError):  # an activation link is not a reset link
        accounts.use_link(world.portal, token, LinkPurpose.RESET, PASSWORD, NOW)


def test_an_expired_link_is_refused(world: World) -> None:
    token = _token(world.add(world.lead()).activation_url)
    later = NOW + timedelta(days=subs.ACTIVATION_DAYS, seconds=1)
    with pytest.raises(RuleViolationError):
        accounts.use_link(world.portal, token, LinkPurpose.ACTIVATE, PASSWORD, later)


# -- sign-in, sessions ---------------------------------------------------------------------------


def test_sign_in_is_case_insensitive_and_a_session_resumes_from_its_cookie(world: World) -> None:
    world.activated()
    new = accounts.sign_in(world.portal, "  Admin@FIXIT.example ", PASSWORD, "1.2.3.4", NOW)
    resumed = accounts.resume(world.portal, new.cookie, NOW + timedelta(minutes=5))
    assert resumed.user.email == "admin@fixit.example"
    assert resumed.company.name == "Fixit Ltd"
    assert new.cookie not in repr(world.sessions.sessions)  # only its hash is kept


def test_unknown_user_wrong_password_and_unactivated_user_get_the_same_answer(
    world: World,
) -> None:
    world.activated()
    world.add(world.lead("B"), email="new@other.example")  # invited, never activated
    answers = []
    for email, password in (
        ("nobody@nowhere.example", PASSWORD),
        ("admin@fixit.example", "Wrong-Password-1"),
        ("new@other.example", PASSWORD),
        ("admin@fixit.example", ""),
    ):
        with pytest.raises(AuthenticationError) as refused:
            accounts.sign_in(world.portal, email, password, f"client-{email}", NOW)
        answers.append((refused.value.code, refused.value.message))
    assert len(set(answers)) == 1


def test_repeated_failures_lock_the_email_and_the_client(world: World) -> None:
    world.activated()
    policy = SessionPolicy()
    for n in range(policy.per_email.limit):
        with pytest.raises(AuthenticationError):
            accounts.sign_in(world.portal, "admin@fixit.example", "Wrong-1-xxxxxxx", f"c{n}", NOW)
    # Locked now, even with the right password, from any client
    with pytest.raises(RateLimitedError):
        accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "fresh", NOW)
    later = NOW + timedelta(seconds=policy.per_email.lock_seconds + 1)
    assert accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "fresh", later).cookie
    # One client trying many emails is locked too
    for n in range(policy.per_client.limit):
        with pytest.raises(AuthenticationError):
            accounts.sign_in(world.portal, f"u{n}@x.example", PASSWORD, "9.9.9.9", later)
    with pytest.raises(RateLimitedError):
        accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "9.9.9.9", later)


def test_sessions_end_when_idle_too_old_signed_out_or_everywhere(world: World) -> None:
    world.activated()
    policy = SessionPolicy()

    def cookie(at: datetime) -> str:
        return accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", at).cookie

    idle = cookie(NOW)
    with pytest.raises(AuthenticationError):
        accounts.resume(world.portal, idle, NOW + timedelta(seconds=policy.idle_seconds + 1))
    busy = cookie(NOW)
    at, step = NOW, timedelta(seconds=policy.idle_seconds - 60)
    while at + step < NOW + timedelta(seconds=policy.lifetime_seconds):
        at += step
        accounts.resume(world.portal, busy, at)  # active all along: it stays alive
    with pytest.raises(AuthenticationError):  # however active, a session ends
        accounts.resume(world.portal, busy, NOW + timedelta(seconds=policy.lifetime_seconds))
    one, two = cookie(NOW), cookie(NOW)
    accounts.sign_out(world.portal, accounts.resume(world.portal, one, NOW))
    with pytest.raises(AuthenticationError):
        accounts.resume(world.portal, one, NOW)
    accounts.resume(world.portal, two, NOW)
    three = cookie(NOW)
    later = NOW + timedelta(seconds=1)
    accounts.sign_out_everywhere(world.portal, accounts.resume(world.portal, three, later), later)
    for ended in (two, three):
        with pytest.raises(AuthenticationError):
            accounts.resume(world.portal, ended, later)


def test_a_forged_or_foreign_cookie_is_no_session(world: World) -> None:
    world.activated()
    real = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW).cookie
    for forged in (None, "", "ps_", real[:-1] + "x", real[:3] + new_id() + real[29:]):
        with pytest.raises(AuthenticationError):
            accounts.resume(world.portal, forged, NOW)


def test_the_form_token_belongs_to_its_session(world: World) -> None:
    world.activated()
    one = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW).signed_in
    two = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW).signed_in
    accounts.check_csrf(one, one.csrf)
    for wrong in (None, "", two.csrf, one.csrf[:-1]):
        with pytest.raises(ValidationError):
            accounts.check_csrf(one, wrong)


# -- reset ----------------------------------------------------------------------------------------


def test_a_reset_link_is_sent_only_to_active_users_and_ends_their_sessions(world: World) -> None:
    world.activated()
    old = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW).cookie
    sent = len(world.mailer)
    accounts.request_reset(world.portal, "nobody@nowhere.example", NOW)
    assert len(world.mailer) == sent  # the same answer, no email
    accounts.request_reset(world.portal, "ADMIN@fixit.example", NOW)
    assert len(world.mailer) == sent + 1
    token = world.mailer.sent[-1].text.split("token=", 1)[1].split()[0]
    later = NOW + timedelta(minutes=5)
    accounts.use_link(world.portal, token, LinkPurpose.RESET, "New-Password-77", later)
    with pytest.raises(AuthenticationError):
        accounts.resume(world.portal, old, later)
    assert accounts.sign_in(world.portal, "admin@fixit.example", "New-Password-77", "c", later)


# -- colleagues ---------------------------------------------------------------------------------


def test_admins_manage_colleagues_and_others_may_not(world: World) -> None:
    world.activated()
    admin = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW).signed_in
    tom = accounts.add_user(
        world.portal, admin, NewColleague("Tom", "Tom@Fixit.example", False, False, NOW)
    )
    token = world.mailer.sent[-1].text.split("token=", 1)[1].split()[0]
    accounts.use_link(world.portal, token, LinkPurpose.ACTIVATE, "Toms-Password-1", NOW)
    tom_in = accounts.sign_in(world.portal, "tom@fixit.example", "Toms-Password-1", "c", NOW)
    with pytest.raises(PermissionDeniedError):
        accounts.list_users(world.portal, tom_in.signed_in, Paging(10))
    with pytest.raises(PermissionDeniedError):
        accounts.add_user(
            world.portal, tom_in.signed_in, NewColleague("X", "x@fixit.example", True, True, NOW)
        )
    listed = accounts.list_users(world.portal, admin, Paging(10))
    assert {u.email for u in listed.items} == {"admin@fixit.example", "tom@fixit.example"}
    promoted = accounts.set_roles(world.portal, admin, tom.user_id, (True, False))
    assert promoted.can_accept and not promoted.admin
    # Deactivating ends Tom's sessions at once, and he cannot sign in again
    accounts.deactivate_user(world.portal, admin, tom.user_id, NOW)
    with pytest.raises(AuthenticationError):
        accounts.resume(world.portal, tom_in.cookie, NOW)
    with pytest.raises(AuthenticationError):
        accounts.sign_in(world.portal, "tom@fixit.example", "Toms-Password-1", "c", NOW)
    # An admin cannot demote or deactivate themselves
    with pytest.raises(RuleViolationError):
        accounts.set_roles(world.portal, admin, admin.user.user_id, (True, False))
    with pytest.raises(RuleViolationError):
        accounts.deactivate_user(world.portal, admin, admin.user.user_id, NOW)


def test_another_companys_user_is_not_found(world: World) -> None:
    world.activated()
    world.add(world.lead("B"), email="boss@other.example", name="Other Ltd")
    token = world.mailer.sent[-1].text.split("token=", 1)[1].split()[0]
    accounts.use_link(world.portal, token, LinkPurpose.ACTIVATE, PASSWORD, NOW)
    mine = accounts.sign_in(world.portal, "admin@fixit.example", PASSWORD, "c", NOW).signed_in
    theirs = world.users.find_by_email("boss@other.example")
    assert theirs is not None
    for attempt in (
        lambda: accounts.deactivate_user(world.portal, mine, theirs.user_id, NOW),
        lambda: accounts.set_roles(world.portal, mine, theirs.user_id, (True, True)),
        lambda: accounts.reset_user(world.portal, mine, theirs.user_id, NOW),
        lambda: accounts.deactivate_user(world.portal, mine, "not-an-id", NOW),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    assert world.users.get(theirs.company_id, theirs.user_id).active
