"""One contract for the portal's repositories, run on the fakes (unit) and on DynamoDB."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.ids import new_id
from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    LinkStatus,
    OneTimeLink,
    PortalSession,
    PortalUser,
    SubcontractorLink,
    UserStatus,
)
from chalicelib.ports import (
    PortalUserRepository,
    SessionStore,
    SignInThrottle,
    SubcontractorRepository,
    ThrottleRule,
)


@dataclass
class PortalRepos:
    subcontractors: SubcontractorRepository
    users: PortalUserRepository
    sessions: SessionStore
    throttle: SignInThrottle


def _company(name: str = "Fixit Ltd") -> Company:
    return Company(company_id=new_id(), name=name, created_at=utcnow())


def _user(company_id: str, email: str | None = None, **fields: object) -> PortalUser:
    base: dict[str, object] = {
        "company_id": company_id,
        "user_id": new_id(),
        "email": email or f"{new_id().lower()}@fixit.example",
        "name": "Ann",
        "status": UserStatus.INVITED,
        "created_at": utcnow().replace(microsecond=0),
        "admin": True,
        "can_accept": True,
    }
    return PortalUser(**{**base, **fields})  # type: ignore[arg-type]


def _link(lead_id: str, company: Company, email: str) -> SubcontractorLink:
    return SubcontractorLink(
        lead_tenant_id=lead_id,
        subcontractor_id=new_id(),
        company_id=company.company_id,
        company_name=company.name,
        admin_email=email,
        status=LinkStatus.ACTIVE,
        created_at=utcnow().replace(microsecond=0),
    )


class PortalRepositoryContract:
    @pytest.fixture
    def repos(self) -> PortalRepos:
        raise NotImplementedError

    def _created(self, repos: PortalRepos) -> tuple[Company, PortalUser, SubcontractorLink]:
        company = _company()
        admin = _user(company.company_id)
        link = _link(new_id(), company, admin.email)
        repos.subcontractors.create_company(company, admin, link)
        return company, admin, link

    def test_a_company_its_admin_and_the_leads_link_are_created_together(
        self, repos: PortalRepos
    ) -> None:
        company, admin, link = self._created(repos)
        assert repos.subcontractors.get_company(company.company_id).name == "Fixit Ltd"
        assert repos.users.get(company.company_id, admin.user_id).email == admin.email
        found = repos.users.find_by_email(admin.email)
        assert found is not None and found.user_id == admin.user_id
        assert repos.subcontractors.get_link(link.lead_tenant_id, link.subcontractor_id) == (
            dataclasses.replace(link, version=1)
        )

    def test_an_email_belongs_to_one_user_only(self, repos: PortalRepos) -> None:
        company, admin, _ = self._created(repos)
        other = _company("Other Ltd")
        with pytest.raises(ConflictError) as taken:
            repos.subcontractors.create_company(
                other, _user(other.company_id, admin.email), _link(new_id(), other, admin.email)
            )
        assert taken.value.code == "email_in_use"
        with pytest.raises(NotFoundError):
            repos.subcontractors.get_company(other.company_id)
        with pytest.raises(ConflictError):
            repos.users.add(_user(company.company_id, admin.email))

    def test_links_are_per_lead_newest_first_and_end_once(self, repos: PortalRepos) -> None:
        company, admin, first = self._created(repos)
        second = _link(first.lead_tenant_id, company, admin.email)
        repos.subcontractors.add_link(second)
        listed = repos.subcontractors.list_links(first.lead_tenant_id, 10, None).items
        assert [link.subcontractor_id for link in listed] == [
            second.subcontractor_id,
            first.subcontractor_id,
        ]
        assert repos.subcontractors.list_links(new_id(), 10, None).items == []
        with pytest.raises(NotFoundError):
            repos.subcontractors.get_link(new_id(), first.subcontractor_id)
        ended = repos.subcontractors.deactivate_link(first, utcnow())
        assert ended.status is LinkStatus.INACTIVE
        with pytest.raises(ConflictError):
            repos.subcontractors.deactivate_link(first, utcnow())

    def test_users_list_and_update_guarded_by_version(self, repos: PortalRepos) -> None:
        company, admin, _ = self._created(repos)
        tom = _user(company.company_id, admin=False, can_accept=False, name="Tom")
        repos.users.add(tom)
        listed = repos.users.list(company.company_id, 10, None).items
        assert {u.user_id for u in listed} == {admin.user_id, tom.user_id}
        stored = repos.users.get(company.company_id, tom.user_id)
        updated = repos.users.update(stored, {"status": UserStatus.ACTIVE, "can_accept": True})
        assert (updated.status, updated.can_accept) == (UserStatus.ACTIVE, True)
        with pytest.raises(ConflictError):
            repos.users.update(stored, {"name": "stale"})
        company_changed = repos.subcontractors.update_company(
            repos.subcontractors.get_company(company.company_id), {"phone": "+44 1"}
        )
        assert company_changed.phone == "+44 1"

    def test_a_one_time_link_is_used_once_and_a_new_one_replaces_it(
        self, repos: PortalRepos
    ) -> None:
        company, admin, _ = self._created(repos)
        now = utcnow().replace(microsecond=0)
        link = OneTimeLink(
            company_id=company.company_id,
            user_id=admin.user_id,
            purpose=LinkPurpose.ACTIVATE,
            token_hash="a" * 64,
            expires_at=now + timedelta(days=7),
            created_at=now,
        )
        repos.users.put_link(link)
        assert repos.users.get_link(company.company_id, admin.user_id, LinkPurpose.ACTIVATE) == link
        with pytest.raises(NotFoundError):
            repos.users.get_link(company.company_id, admin.user_id, LinkPurpose.RESET)
        repos.users.use_link(link, now)
        with pytest.raises(ConflictError):
            repos.users.use_link(link, now)
        fresh = dataclasses.replace(link, token_hash="b" * 64)
        repos.users.put_link(fresh)
        with pytest.raises(ConflictError):  # the old hash no longer matches
            repos.users.use_link(link, now)
        repos.users.use_link(fresh, now)

    def test_sessions_are_stored_touched_and_deleted(self, repos: PortalRepos) -> None:
        company, admin, _ = self._created(repos)
        now = utcnow().replace(microsecond=0)
        session = PortalSession(
            company_id=company.company_id,
            session_id=new_id(),
            user_id=admin.user_id,
            secret_hash="c" * 64,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=12),
        )
        repos.sessions.add(session)
        assert repos.sessions.get(company.company_id, session.session_id) == session
        repos.sessions.touch(session, now + timedelta(minutes=3))
        touched = repos.sessions.get(company.company_id, session.session_id)
        assert touched.last_seen_at == now + timedelta(minutes=3)
        repos.sessions.delete(session)
        repos.sessions.delete(session)  # twice is fine
        with pytest.raises(NotFoundError):
            repos.sessions.get(company.company_id, session.session_id)
        with pytest.raises(NotFoundError):
            repos.sessions.get(new_id(), session.session_id)

    def test_failures_lock_a_key_until_the_lock_ends(self, repos: PortalRepos) -> None:
        rule = ThrottleRule(limit=3, window_seconds=900, lock_seconds=600)
        key, now = f"email:{new_id()}@x.example", utcnow()
        for n in range(2):
            repos.throttle.failed(key, now + timedelta(seconds=n), rule)
        assert repos.throttle.locked_until(key, now) is None
        repos.throttle.failed(key, now + timedelta(seconds=2), rule)
        until = repos.throttle.locked_until(key, now + timedelta(seconds=3))
        assert until is not None and until > now + timedelta(seconds=500)
        assert repos.throttle.locked_until(key, now + timedelta(seconds=700)) is None
        assert repos.throttle.locked_until(f"email:{new_id()}", now) is None
        repos.throttle.clear(key)
        repos.throttle.failed(key, now + timedelta(seconds=800), rule)
        assert repos.throttle.locked_until(key, now + timedelta(seconds=801)) is None

    def test_failures_outside_the_window_start_a_new_one(self, repos: PortalRepos) -> None:
        rule = ThrottleRule(limit=2, window_seconds=60, lock_seconds=600)
        key, now = f"client:{new_id()}", utcnow()
        repos.throttle.failed(key, now, rule)
        repos.throttle.failed(key, now + timedelta(seconds=120), rule)
        assert repos.throttle.locked_until(key, now + timedelta(seconds=121)) is None
