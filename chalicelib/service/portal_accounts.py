"""Portal accounts: activation, sign-in and sessions, password reset, colleagues, the company.

* **Passwords** live in the Cognito user pool only; the service checks them there and never
  stores one. Activation and reset links are the service's own (``pl_...``, only their hash
  stored, single use, expiring), emailed through SES.
* **Sessions**: the cookie holds ``ps_<company><session id><secret>``; the session record holds
  only the secret's hash. A session ends after ``idle_seconds`` without a request and, however
  active, ``lifetime_seconds`` after sign-in; "sign out everywhere", a password reset and
  deactivation end every session of the user at once (``sessions_valid_from``).
* **CSRF**: every form carries a token derived from the session's secret (so it changes with
  every session and is never stored); a form posted without the right one is refused.
* **Sign-in throttling**: failures are counted per email and per client; past their limit the key
  is locked for a while. An unknown email, a wrong password, an unactivated or deactivated user
  all get the same answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RuleViolationError,
    ValidationError,
)
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    PortalSession,
    PortalUser,
    UserStatus,
    check_colleague,
    check_not_self_demotion,
    require_admin,
)
from chalicelib.observability import count, logger
from chalicelib.ports import (
    Email,
    Page,
    Paging,
    PortalUserRepository,
    SessionStore,
    SignInThrottle,
    SubcontractorRepository,
    ThrottleRule,
)
from chalicelib.service.outbound_mail import reserve
from chalicelib.service.subcontractors import (
    LINK_PREFIX,
    LINK_TOKEN_LEN,
    PortalAccess,
    hash_token,
    issue_link,
)

SESSION_PREFIX = "ps_"
SESSION_TOKEN_LEN = len(SESSION_PREFIX) + 26 + 26 + 43  # secrets.token_urlsafe(32): 256 bits
_PASSWORD = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{12,256}$", re.DOTALL)
WRONG = "The email or password is not right."


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_seconds: int = 30 * 60
    lifetime_seconds: int = 12 * 3600
    touch_every_seconds: int = 60  # how stale ``last_seen_at`` may be before it is written
    per_email: ThrottleRule = field(default_factory=lambda: ThrottleRule(5, 900, 900))
    per_client: ThrottleRule = field(default_factory=lambda: ThrottleRule(30, 900, 900))


@dataclass(frozen=True, slots=True)
class PortalPorts:
    subcontractors: SubcontractorRepository
    users: PortalUserRepository
    sessions: SessionStore
    throttle: SignInThrottle
    access: PortalAccess
    policy: SessionPolicy = field(default_factory=SessionPolicy)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A portal request's caller: the user, the company, the session (and its secret token,
    from which the form token is derived)."""

    user: PortalUser
    company: Company
    session: PortalSession
    token: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


@dataclass(frozen=True, slots=True)
class NewSession:
    signed_in: SignedIn
    cookie: str  # the only copy of the session's secret


def csrf_token(session_token: str) -> str:
    """The form token of a session: derived from its secret, so nothing needs storing."""
    return hashlib.sha256(b"csrf\x00" + session_token.encode()).hexdigest()[:40]


def check_csrf(signed_in: SignedIn, given: str | None) -> None:
    if not given or not hmac.compare_digest(given, signed_in.csrf):
        raise ValidationError(
            "This form has expired or did not come from this page; load it again.",
            code="csrf_invalid",
            field="csrf",
        )


def check_password(password: str) -> None:
    if not _PASSWORD.match(password):
        raise ValidationError(
            "The password must have 12 to 256 characters, with upper- and lower-case letters "
            "and a digit.",
            field="password",
        )


# -- activation and reset ---------------------------------------------------------------------


def _link_user(ports: PortalPorts, token: str, purpose: LinkPurpose, now: datetime) -> PortalUser:
    invalid = RuleViolationError(
        "This link is not valid any more; ask for a new one.", code="link_invalid"
    )
    if len(token) != LINK_TOKEN_LEN or not token.startswith(LINK_PREFIX):
        raise invalid
    company_id = token[len(LINK_PREFIX) : len(LINK_PREFIX) + 26]
    user_id = token[len(LINK_PREFIX) + 26 : len(LINK_PREFIX) + 52]
    if not (is_id(company_id) and is_id(user_id)):
        raise invalid
    try:
        link = ports.users.get_link(company_id, user_id, purpose)
        user = ports.users.get(company_id, user_id)
    except NotFoundError as exc:
        raise invalid from exc
    if not hmac.compare_digest(link.token_hash, hash_token(token)) or not link.usable(now):
        raise invalid
    if user.status is UserStatus.DEACTIVATED:
        raise invalid
    return user


def check_link(ports: PortalPorts, token: str, purpose: LinkPurpose, now: datetime) -> PortalUser:
    """The user a link is for, while it can still be used (the form that sets the password)."""
    return _link_user(ports, token, purpose, now)


def use_link(
    ports: PortalPorts, token: str, purpose: LinkPurpose, password: str, now: datetime
) -> PortalUser:
    """Set the password through an activation or reset link; the link is then used up, and
    every earlier session of the user ends."""
    check_password(password)
    user = _link_user(ports, token, purpose, now)
    link = ports.users.get_link(user.company_id, user.user_id, purpose)
    try:
        ports.users.use_link(link, now)
    except ConflictError as exc:
        raise RuleViolationError(
            "This link was used already; ask for a new one.", code="link_invalid"
        ) from exc
    ports.access.identities.set_password(user.email, password)
    changes: dict[str, object] = {"sessions_valid_from": now}
    if user.status is UserStatus.INVITED:
        changes.update(status=UserStatus.ACTIVE, activated_at=now)
    updated = ports.users.update(user, changes)
    logger.info("portal password set", extra={"company_id": user.company_id, "purpose": purpose})
    count("PortalPasswordSet")
    return updated


def request_reset(ports: PortalPorts, email: str, now: datetime) -> None:
    """Email a reset link if the address is an active user's; the answer is the same either way
    (nobody learns which addresses are users)."""
    user = ports.users.find_by_email(email.strip().lower())
    if user is None or user.status is not UserStatus.ACTIVE:
        return
    try:
        reserve(ports.access.allowance, user.company_id, now)
    except RuleViolationError:
        return  # the company's emails for today are spent; the user learns nothing new
    url = issue_link(ports.users, ports.access, user, LinkPurpose.RESET, now)
    _mail(ports, user.email, "Reset your Subcontractor Portal password", _reset_text(url))
    count("PortalResetRequested")


def _reset_text(url: str) -> str:
    return (
        "Hello,\n\nA new password was asked for your Subcontractor Portal account. The link "
        f"below works once, for two hours:\n\n    {url}\n\nIf you did not ask, ignore this "
        "message: your password stays as it is.\n"
    )


def _mail(ports: PortalPorts, to: str, subject: str, text: str) -> None:
    try:
        ports.access.mailer.send(Email(to=[to], subject=subject, text=text))
    except Exception:
        logger.exception("portal email failed")


# -- sign-in and sessions -----------------------------------------------------------------------


def sign_in(
    ports: PortalPorts, email: str, password: str, client: str, now: datetime
) -> NewSession:
    """Check the password; a session on success. Throttled per email and per client."""
    email = email.strip().lower()
    keys = (f"email:{email}", f"client:{client}")
    for key in keys:
        until = ports.throttle.locked_until(key, now)
        if until is not None:
            minutes = max(1, int((until - now).total_seconds() // 60) + 1)
            raise RateLimitedError(
                f"Too many attempts; try again in {minutes} minute(s).", code="too_many_attempts"
            )
    user = ports.users.find_by_email(email)
    verified = ports.access.identities.verify(email, password) if password else False
    if user is None or not verified or not user.active:
        ports.throttle.failed(keys[0], now, ports.policy.per_email)
        ports.throttle.failed(keys[1], now, ports.policy.per_client)
        logger.info("portal sign-in refused")
        count("PortalSignInRefused")
        raise AuthenticationError(WRONG, code="sign_in_failed")
    ports.throttle.clear(keys[0])
    session_id = new_id()
    token = SESSION_PREFIX + user.company_id + session_id + secrets.token_urlsafe(32)
    session = PortalSession(
        company_id=user.company_id,
        session_id=session_id,
        user_id=user.user_id,
        secret_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=ports.policy.lifetime_seconds),
    )
    ports.sessions.add(session)
    company = ports.subcontractors.get_company(user.company_id)
    logger.info("portal signed in", extra={"company_id": user.company_id})
    count("PortalSignedIn")
    return NewSession(SignedIn(user, company, session, token), cookie=token)


def resume(ports: PortalPorts, token: str | None, now: datetime) -> SignedIn:
    """The signed-in caller of a request, from its session cookie (``AuthenticationError`` when
    there is none, or it ended: idle, too old, signed out, user deactivated)."""
    gone = AuthenticationError("Please sign in.", code="signed_out")
    if not token or len(token) != SESSION_TOKEN_LEN or not token.startswith(SESSION_PREFIX):
        raise gone
    company_id = token[len(SESSION_PREFIX) : len(SESSION_PREFIX) + 26]
    session_id = token[len(SESSION_PREFIX) + 26 : len(SESSION_PREFIX) + 52]
    if not (is_id(company_id) and is_id(session_id)):
        raise gone
    try:
        session = ports.sessions.get(company_id, session_id)
        user = ports.users.get(company_id, session.user_id)
    except NotFoundError as exc:
        raise gone from exc
    valid_from = user.sessions_valid_from
    if (
        not hmac.compare_digest(session.secret_hash, hash_token(token))
        or not session.alive(now, ports.policy.idle_seconds)
        or not user.active
        or (valid_from is not None and session.created_at < valid_from)
    ):
        raise gone
    if (now - session.last_seen_at).total_seconds() >= ports.policy.touch_every_seconds:
        ports.sessions.touch(session, now)
    company = ports.subcontractors.get_company(company_id)
    return SignedIn(user, company, session, token)


def sign_out(ports: PortalPorts, signed_in: SignedIn) -> None:
    ports.sessions.delete(signed_in.session)


def sign_out_everywhere(ports: PortalPorts, signed_in: SignedIn, now: datetime) -> None:
    """End every session of the user, this one included."""
    ports.users.update(signed_in.user, {"sessions_valid_from": now})
    ports.sessions.delete(signed_in.session)
    count("PortalSignedOutEverywhere")


# -- colleagues and the company (administrators) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class NewColleague:
    name: str
    email: str
    can_accept: bool
    admin: bool
    now: datetime


def list_users(ports: PortalPorts, signed_in: SignedIn, paging: Paging) -> Page[PortalUser]:
    require_admin(signed_in.user)
    return ports.users.list(signed_in.user.company_id, paging.limit, paging.cursor)


def add_user(ports: PortalPorts, signed_in: SignedIn, new: NewColleague) -> PortalUser:
    """A colleague, with an activation link by email."""
    require_admin(signed_in.user)
    company_id = signed_in.user.company_id
    email = new.email.strip().lower()
    if ports.users.find_by_email(email) is not None:
        raise ConflictError(
            "This email already belongs to a portal user.", code="email_in_use", field="email"
        )
    reserve(ports.access.allowance, company_id, new.now)
    user = PortalUser(
        company_id=company_id,
        user_id=new_id(),
        email=email,
        name=new.name,
        status=UserStatus.INVITED,
        created_at=new.now,
        admin=new.admin,
        can_accept=new.can_accept,
    )
    ports.access.identities.create_user(email)
    ports.users.add(user)
    url = issue_link(ports.users, ports.access, user, LinkPurpose.ACTIVATE, new.now)
    _mail(
        ports,
        email,
        f"{signed_in.company.name} invites you to its Subcontractor Portal",
        f"Hello {new.name},\n\nSet your password to sign in (the link works once, for seven "
        f"days):\n\n    {url}\n",
    )
    count("PortalUserAdded")
    return user


def _colleague(ports: PortalPorts, signed_in: SignedIn, user_id: str) -> PortalUser:
    require_admin(signed_in.user)
    if not is_id(user_id):
        raise NotFoundError("No such user.")
    colleague = ports.users.get(signed_in.user.company_id, user_id)
    check_colleague(signed_in.user, colleague)
    return colleague


def set_roles(
    ports: PortalPorts, signed_in: SignedIn, user_id: str, roles: tuple[bool, bool]
) -> PortalUser:
    """Change a colleague's ``(can_accept, admin)``."""
    can_accept, admin = roles
    colleague = _colleague(ports, signed_in, user_id)
    check_not_self_demotion(signed_in.user, colleague, admin)
    return ports.users.update(colleague, {"can_accept": can_accept, "admin": admin})


def deactivate_user(
    ports: PortalPorts, signed_in: SignedIn, user_id: str, now: datetime
) -> PortalUser:
    """The colleague can no longer sign in, and their sessions end at once."""
    colleague = _colleague(ports, signed_in, user_id)
    if colleague.user_id == signed_in.user.user_id:
        raise RuleViolationError("You cannot deactivate yourself.", code="last_admin")
    if colleague.status is UserStatus.DEACTIVATED:
        return colleague
    updated = ports.users.update(
        colleague, {"status": UserStatus.DEACTIVATED, "sessions_valid_from": now}
    )
    ports.access.identities.disable(colleague.email)
    count("PortalUserDeactivated")
    return updated


def reset_user(ports: PortalPorts, signed_in: SignedIn, user_id: str, now: datetime) -> None:
    """Send a colleague a password-reset link (or, if they never activated, a new activation
    link)."""
    colleague = _colleague(ports, signed_in, user_id)
    if colleague.status is UserStatus.DEACTIVATED:
        raise RuleViolationError("This user is deactivated.", code="user_deactivated")
    reserve(ports.access.allowance, colleague.company_id, now)
    invited = colleague.status is UserStatus.INVITED
    purpose = LinkPurpose.ACTIVATE if invited else LinkPurpose.RESET
    url = issue_link(ports.users, ports.access, colleague, purpose, now)
    subject = "Your Subcontractor Portal " + ("invitation" if invited else "password reset")
    _mail(ports, colleague.email, subject, f"Hello {colleague.name},\n\n    {url}\n")


def update_company(ports: PortalPorts, signed_in: SignedIn, changes: dict[str, str]) -> Company:
    """The company's profile (name, phone, address, website)."""
    require_admin(signed_in.user)
    return ports.subcontractors.update_company(signed_in.company, changes)
