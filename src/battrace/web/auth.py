"""Bearer-key authentication, the key's enterprise and read scope, and its rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from battrace.persistence.base import EnterpriseRow
from battrace.persistence.queries import KeyRow
from battrace.services import keys
from battrace.services.authorisation import ReadScope, may_capture, scope_for
from battrace.web.problems import SECURITY, ApiError
from battrace.web.ratelimit import retry_after
from battrace.web.runtime import runtime

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An interface key from `battrace key create`: `Authorization: Bearer btk_…`.",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="battrace"'}


@dataclass(frozen=True, slots=True)
class Principal:
    key: KeyRow
    enterprise: EnterpriseRow
    scope: ReadScope

    @property
    def uscc(self) -> str:
        return self.enterprise.uscc


def authenticate(request: Request, token: str) -> Principal:
    """The principal of an interface key: 401 if unknown or revoked, 403 if its enterprise is
    gone, 429 over its rate limit."""
    rt = runtime(request)
    found = keys.authenticate_with_enterprise(rt.store, token)
    if found is None:
        raise ApiError(401, "the interface key is unknown or revoked", headers=_CHALLENGE)
    key, enterprise = found
    if enterprise is None:
        raise ApiError(403, f"enterprise {key.enterprise} of this key is no longer registered")
    who = Principal(key, enterprise, scope_for(enterprise))
    request.state.principal = who
    wait = rt.limiter.take(key.key_id)
    if wait > 0:
        raise ApiError(
            429,
            f"rate limit of {rt.api.rate_limit:g} requests/s (bursts of {rt.api.rate_burst}) "
            "exceeded for this key",
            headers={"Retry-After": retry_after(wait)},
        )
    return who


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise ApiError(
            401,
            "an interface key is required: Authorization: Bearer <key>",
            headers=_CHALLENGE,
        )
    return credentials.credentials


def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Principal:
    """Who is calling: 401 without a valid key, 429 over the key's rate limit."""
    return authenticate(request, _token(credentials))


@dataclass(slots=True)
class Caller:
    """A request with a bearer key not checked yet. Read endpoints check it with
    :meth:`principal` in the same worker-thread call as their database work: one thread hop per
    request instead of two, which is a good part of a short request's latency."""

    request: Request
    token: str

    def principal(self) -> Principal:
        return authenticate(self.request, self.token)


async def caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    return Caller(request, _token(credentials))


def capturer(who: Principal = Depends(principal)) -> Principal:
    if not may_capture(who.enterprise):
        raise ApiError(
            403,
            f"enterprise {who.uscc} (roles: {', '.join(who.enterprise.roles)}) reports no events",
            type=SECURITY,
        )
    return who
