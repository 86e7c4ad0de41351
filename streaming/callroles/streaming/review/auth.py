"""The review page's login: a browser cannot send a bearer header, so it gives the token once
(``POST /review/login``) and gets an HttpOnly, SameSite=Strict cookie that proves it knew it:
an expiry and the HMAC-SHA256 of that expiry keyed by the token. The token itself is never
stored in the browser; changing the token logs every browser out; a cookie past its expiry,
or signed with another token, is refused like no cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

COOKIE = "callroles_review"
#: how long a login lasts
SESSION_S = 8 * 3600


def session_value(token: str, expires: int) -> str:
    """The cookie's value for a session ending at ``expires`` (epoch s)."""
    mac = hmac.new(token.encode(), f"review:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def session_ok(value: str | None, token: str, now: float | None = None) -> bool:
    """True for a cookie made by :func:`session_value` with this token and not expired."""
    if not value or "." not in value:
        return False
    expires, _, _mac = value.partition(".")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(value.encode(), session_value(token, int(expires)).encode())


def authorised(request: web.Request, token: str) -> bool:
    """A review request may pass: the bearer header (as the API) or a valid session cookie."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    return session_ok(request.cookies.get(COOKIE), token)


def log_in(response: web.StreamResponse, token: str, secure: bool) -> None:
    """Set the session cookie on ``response``."""
    expires = int(time.time()) + SESSION_S
    response.set_cookie(
        COOKIE, session_value(token, expires), max_age=SESSION_S, path="/review",
        httponly=True, samesite="Strict", secure=secure,
    )  # fmt: skip
