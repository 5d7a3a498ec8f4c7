"""Portal users' passwords in a Cognito user pool (moto's in the local stack and the tests).

Users are created by the service (``AdminCreateUser``, with Cognito's own email suppressed: the
service sends its own activation and reset links), their passwords set with
``AdminSetUserPassword`` and checked with ``ADMIN_USER_PASSWORD_AUTH``. An unknown user and a
wrong password are the same answer (moto reports them differently; Cognito, with
``PreventUserExistenceErrors``, does not).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cached_property
from typing import Any

from chalicelib.domain.errors import NotConfiguredError, ValidationError

_WRONG = {"NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException"}


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class CognitoIdentityProvider:
    """Implements ``IdentityProvider`` on one user pool and its app client."""

    def __init__(
        self, client: Callable[[], Any], pool_id: str | None, client_id: str | None
    ) -> None:
        self._client = client
        self._pool = pool_id
        self._app = client_id

    @cached_property
    def _idp(self) -> Any:
        if not self._pool or not self._app:
            raise NotConfiguredError("USER_POOL_ID and USER_POOL_CLIENT_ID are not set.")
        return self._client()

    def create_user(self, email: str) -> None:
        """A user named by the address. The pool's rules for an address are narrower than the
        models' (moto's, for one, take only ASCII letters, digits and ``._%+-`` before the
        ``@``): an address it refuses is a 400 naming ``email``, not a 500."""
        try:
            # A user left by an earlier, interrupted attempt is the same user.
            with contextlib.suppress(self._idp.exceptions.UsernameExistsException):
                self._idp.admin_create_user(
                    UserPoolId=self._pool,
                    Username=email,
                    UserAttributes=[
                        {"Name": "email", "Value": email},
                        {"Name": "email_verified", "Value": "true"},
                    ],
                    MessageAction="SUPPRESS",
                )
        except self._idp.exceptions.InvalidParameterException as exc:
            raise ValidationError(
                "This email address cannot be used to sign in to the portal; use another one.",
                field="email",
            ) from exc

    def set_password(self, email: str, password: str) -> None:
        try:
            self._idp.admin_set_user_password(
                UserPoolId=self._pool, Username=email, Password=password, Permanent=True
            )
        except self._idp.exceptions.InvalidPasswordException as exc:
            raise ValidationError(
                "The password must have at least 12 characters, with upper- and lower-case "
                "letters and a digit.",
                field="password",
            ) from exc

    def verify(self, email: str, password: str) -> bool:
        try:
            self._idp.admin_initiate_auth(
                UserPoolId=self._pool,
                ClientId=self._app,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        except self._idp.exceptions.ClientError as exc:
            if _code(exc) in _WRONG:
                return False
            raise
        return True

    def disable(self, email: str) -> None:
        self._idp.admin_disable_user(UserPoolId=self._pool, Username=email)

    def enable(self, email: str) -> None:
        self._idp.admin_enable_user(UserPoolId=self._pool, Username=email)
