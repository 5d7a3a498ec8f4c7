"""Portal pages for accounts: sign-in and out, activation, password reset, colleagues, the
company profile, and the stylesheet. Every path is written out in its decorator."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.domain.errors import AuthenticationError
from chalicelib.domain.subcontractors import LinkPurpose, require_admin
from chalicelib.portal import forms, pages
from chalicelib.portal.web import (
    FORM,
    SESSION_COOKIE,
    Portal,
    action,
    blueprint,
    client_of,
    cookie,
    page,
    public_action,
    public_page,
    security_headers,
)
from chalicelib.ports import Paging
from chalicelib.service import portal_accounts as accounts
from chalicelib.service.portal_accounts import NewColleague

DONE = {
    "activated": "Your password is set. Sign in with it.",
    "reset": "Your new password is set. Sign in with it.",
    "signed_out": "You are signed out.",
    "added": "The colleague was added; they got an email to set their password.",
    "roles": "The roles were changed.",
    "deactivated": "The user was deactivated; their sessions ended.",
    "reset_sent": "A password reset link was sent to the user.",
    "saved": "The company profile was saved.",
}


def _static(name: str) -> Response:
    # Cached for good: its URL carries a hash of its content.
    headers = security_headers()
    headers.update(
        {
            "Content-Type": f"{pages.STATIC_TYPES[name]}; charset=utf-8",
            "Cache-Control": "public, max-age=31536000, immutable",
        }
    )
    return Response(body=pages.static_file(name)[0], status_code=200, headers=headers)


@blueprint.route("/portal/static/portal.css", methods=["GET"], name="portal_stylesheet")
def stylesheet() -> Response:
    return _static("portal.css")


@blueprint.route("/portal/static/portal.js", methods=["GET"], name="portal_script")
def script() -> Response:
    return _static("portal.js")


# -- sign-in and out ----------------------------------------------------------------------------


@blueprint.route("/portal/login", methods=["GET"], name="portal_login_page")
@public_page
def login_page(portal: Portal) -> Response:
    query = portal.query(forms.SignInQuery)
    return portal.page(
        "login.html",
        next=forms.safe_next(query.next) or "",
        done=DONE.get(query.done or ""),
        failed=None,
        email="",
    )


@blueprint.route("/portal/login", methods=["POST"], content_types=FORM, name="portal_login")
@public_action
def login(portal: Portal, form: dict[str, str]) -> Response:
    given = forms.validate(forms.SignInForm, form)
    ports = portal.container.portal_ports
    try:
        new = accounts.sign_in(
            ports, given.email, given.password, client_of(portal.request), portal.now
        )
    except AuthenticationError as exc:
        return portal.page(
            "login.html",
            status=401,
            next=forms.safe_next(given.next) or "",
            done=None,
            failed=exc.message,
            email=given.email,
        )
    portal.set_cookies.append(cookie(SESSION_COOKIE, new.cookie, portal.cookie_path))
    return portal.redirect(forms.safe_next(given.next) or "/portal/")


def _end_session(portal: Portal) -> Response:
    portal.set_cookies.append(cookie(SESSION_COOKIE, "", portal.cookie_path, max_age=0))
    return portal.redirect("/portal/login", done="signed_out")


@blueprint.route("/portal/logout", methods=["POST"], content_types=FORM, name="portal_logout")
@action
def logout(portal: Portal, form: dict[str, str]) -> Response:
    forms.validate(forms.EmptyForm, form)
    accounts.sign_out(portal.container.portal_ports, portal.me)
    return _end_session(portal)


@blueprint.route(
    "/portal/logout-everywhere",
    methods=["POST"],
    content_types=FORM,
    name="portal_logout_everywhere",
)
@action
def logout_everywhere(portal: Portal, form: dict[str, str]) -> Response:
    forms.validate(forms.EmptyForm, form)
    accounts.sign_out_everywhere(portal.container.portal_ports, portal.me, portal.now)
    return _end_session(portal)


# -- activation and password reset ------------------------------------------------------------


@blueprint.route("/portal/activate", methods=["GET"], name="portal_activate_page")
@public_page
def activate_page(portal: Portal) -> Response:
    token = portal.query(forms.TokenQuery).token or ""
    user = accounts.check_link(
        portal.container.portal_ports, token, LinkPurpose.ACTIVATE, portal.now
    )
    return portal.page("password.html", purpose="activate", token=token, email=user.email)


@blueprint.route("/portal/activate", methods=["POST"], content_types=FORM, name="portal_activate")
@public_action
def activate(portal: Portal, form: dict[str, str]) -> Response:
    given = forms.validate(forms.PasswordForm, form)
    given.check()
    accounts.use_link(
        portal.container.portal_ports,
        given.token,
        LinkPurpose.ACTIVATE,
        given.password,
        portal.now,
    )
    return portal.redirect("/portal/login", done="activated")


@blueprint.route("/portal/reset", methods=["GET"], name="portal_reset_page")
@public_page
def reset_page(portal: Portal) -> Response:
    query = portal.query(forms.TokenQuery)
    if query.token is None:
        return portal.page("reset.html", sent=query.sent)
    user = accounts.check_link(
        portal.container.portal_ports, query.token, LinkPurpose.RESET, portal.now
    )
    return portal.page("password.html", purpose="reset", token=query.token, email=user.email)


@blueprint.route("/portal/reset", methods=["POST"], content_types=FORM, name="portal_reset")
@public_action
def reset(portal: Portal, form: dict[str, str]) -> Response:
    ports = portal.container.portal_ports
    if "token" in form:
        given = forms.validate(forms.PasswordForm, form)
        given.check()
        accounts.use_link(ports, given.token, LinkPurpose.RESET, given.password, portal.now)
        return portal.redirect("/portal/login", done="reset")
    asked = forms.validate(forms.ResetRequestForm, form)
    accounts.request_reset(ports, str(asked.email), portal.now)
    return portal.redirect("/portal/reset", sent="true")


# -- colleagues (administrators) ---------------------------------------------------------------


@blueprint.route("/portal/users", methods=["GET"], name="portal_users_page")
@page
def users_page(portal: Portal) -> Response:
    query = portal.query(forms.PageQuery)
    found = accounts.list_users(
        portal.container.portal_ports, portal.me, Paging(limit=50, cursor=query.cursor)
    )
    return portal.page("users.html", users=found, done=DONE.get(query.done or ""))


@blueprint.route("/portal/users", methods=["POST"], content_types=FORM, name="portal_add_user")
@action
def add_user(portal: Portal, form: dict[str, str]) -> Response:
    portal.back = portal.url("/portal/users")
    given = forms.validate(forms.NewUserForm, form)
    accounts.add_user(
        portal.container.portal_ports,
        portal.me,
        NewColleague(
            name=given.name,
            email=str(given.email),
            can_accept=given.can_accept,
            admin=given.admin,
            now=portal.now,
        ),
    )
    return portal.redirect("/portal/users", done="added")


@blueprint.route(
    "/portal/users/{user_id}/roles",
    methods=["POST"],
    content_types=FORM,
    name="portal_user_roles",
)
@action
def user_roles(portal: Portal, form: dict[str, str], user_id: str) -> Response:
    portal.back = portal.url("/portal/users")
    given = forms.validate(forms.RolesForm, form)
    accounts.set_roles(
        portal.container.portal_ports, portal.me, user_id, (given.can_accept, given.admin)
    )
    return portal.redirect("/portal/users", done="roles")


@blueprint.route(
    "/portal/users/{user_id}/deactivate",
    methods=["POST"],
    content_types=FORM,
    name="portal_user_deactivate",
)
@action
def user_deactivate(portal: Portal, form: dict[str, str], user_id: str) -> Response:
    portal.back = portal.url("/portal/users")
    forms.validate(forms.EmptyForm, form)
    accounts.deactivate_user(portal.container.portal_ports, portal.me, user_id, portal.now)
    return portal.redirect("/portal/users", done="deactivated")


@blueprint.route(
    "/portal/users/{user_id}/reset",
    methods=["POST"],
    content_types=FORM,
    name="portal_user_reset",
)
@action
def user_reset(portal: Portal, form: dict[str, str], user_id: str) -> Response:
    portal.back = portal.url("/portal/users")
    forms.validate(forms.EmptyForm, form)
    accounts.reset_user(portal.container.portal_ports, portal.me, user_id, portal.now)
    return portal.redirect("/portal/users", done="reset_sent")


# -- the company profile (administrators) -----------------------------------------------------


@blueprint.route("/portal/company", methods=["GET"], name="portal_company_page")
@page
def company_page(portal: Portal) -> Response:
    query = portal.query(forms.PageQuery)
    require_admin(portal.me.user)
    return portal.page("company.html", company=portal.me.company, done=DONE.get(query.done or ""))


@blueprint.route("/portal/company", methods=["POST"], content_types=FORM, name="portal_company")
@action
def company(portal: Portal, form: dict[str, str]) -> Response:
    portal.back = portal.url("/portal/company")
    given = forms.validate(forms.CompanyForm, form)
    accounts.update_company(portal.container.portal_ports, portal.me, given.model_dump())
    return portal.redirect("/portal/company", done="saved")
