"""Who a widget shopper is: an anonymous visitor or the shop's logged-in user, and the token
that proves it on every call.

- An anonymous visitor gets a random id (`v_` + 128 random bits) when the shopper first opens
  the widget; the widget keeps the token on the shop page's own origin.
- A logged-in user is named by the shop's page: `data-user` and `data-user-hash`, the hex
  HMAC-SHA256 of the user id under the channel's secret, computed by the shop's backend.
  A wrong hash is refused; the comparison takes the same time wherever the hashes differ.
- The token binds the channel, the shopper's id and the name shown to agents, under a key
  derived from the channel's secret: a token of one channel means nothing to another, and
  changing the secret signs every shopper out.

The shopper's id on the channel (the customer's external id) is `v_…` or `u_<user id>`, so an
anonymous visitor can never be taken for a user.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bridge.channels.contract import MAX_USER_ID, RequestRejected, storable

VERSION = "w1"
MAX_USER = MAX_USER_ID - 2  # "u_" + the shop's user id fits customers.external_id
MAX_NAME = 64  # customers.nickname holds more; a name is for people to read
ANONYMOUS, USER = "v_", "u_"


STATUS = {"identity_refused": 403, "bad_token": 401}  # else 422: a value the page got wrong


class IdentityRefused(RequestRejected):
    """The shopper is not who the request says: CODE names why (identity_refused, bad_token,
    bad_user, bad_name), STATUS is the HTTP answer."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message, self.status = code, message, STATUS.get(code, 422)


@dataclass(frozen=True)
class Visitor:
    shopper_id: str  # the customer's external id on the channel: v_… or u_…
    name: str  # shown to agents; "" for none

    @property
    def identified(self) -> bool:
        return self.shopper_id.startswith(USER)


def user_hash(secret: str, user: str) -> str:
    """What the shop's backend computes for DATA-USER-HASH (docs/widget.md shows it in three languages)."""
    return hmac.new(secret.encode(), user.encode(), hashlib.sha256).hexdigest()


def anonymous() -> Visitor:
    return Visitor(ANONYMOUS + secrets.token_urlsafe(16), "")


def identified(secret: str, user: object, given_hash: object, name: object = None) -> Visitor:
    """The shop's user USER, if GIVEN_HASH is its HMAC under SECRET; else IdentityRefused."""
    if not isinstance(user, str) or not 1 <= len(user) <= MAX_USER or not storable(user) \
            or user != user.strip():
        raise IdentityRefused("bad_user", f"user must be 1 to {MAX_USER} characters, without spaces around")
    if not isinstance(given_hash, str) or not hmac.compare_digest(
            user_hash(secret, user).encode(), given_hash.strip().lower().encode("ascii", "replace")):
        raise IdentityRefused("identity_refused", "the user's hash is not the HMAC-SHA256 of the user "
                              "under this channel's secret")
    return Visitor(USER + user, display_name(name))


def display_name(name: object) -> str:
    if name is None:
        return ""
    if not isinstance(name, str) or len(name.strip()) > MAX_NAME or not storable(name):
        raise IdentityRefused("bad_name", f"name must be text of at most {MAX_NAME} characters")
    return name.strip()


def issue(secret: str, channel_key: str, visitor: Visitor) -> str:
    """The token the widget sends on every call: `w1.<id>.<name>.<signature>`."""
    body = f"{VERSION}.{_b64(visitor.shopper_id)}.{_b64(visitor.name)}"
    return f"{body}.{_sign(secret, channel_key, body)}"


def verify(secret: str, channel_key: str, token: str | None) -> Visitor:
    """The visitor TOKEN was issued to on this channel; IdentityRefused for anything else."""
    parts = (token or "").split(".")
    if len(parts) != 4 or parts[0] != VERSION or len(token or "") > 600:
        raise IdentityRefused("bad_token", "no visitor token, or not one this widget issued")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(secret, channel_key, body).encode(), parts[3].encode("ascii", "replace")):
        raise IdentityRefused("bad_token", "the visitor token is not one this widget issued")
    try:
        shopper_id, name = _unb64(parts[1]), _unb64(parts[2])
    except ValueError:
        raise IdentityRefused("bad_token", "the visitor token is damaged") from None
    return Visitor(shopper_id, name)


def media_signature(secret: str, channel_key: str, digest: str) -> str:
    """Signs a stored image's URL for <img src>, which cannot carry the token."""
    return _sign(secret, channel_key, f"media.{digest}")[:32]


def _sign(secret: str, channel_key: str, body: str) -> str:
    # Not an HMAC keyed by the secret, as a user's hash is: then the hash a shop's backend made
    # for some user id would be this key, and sign tokens for anyone. Keyed by a constant of
    # ours, over the secret and the channel, it is no user's hash.
    key = hmac.new(b"kefu-widget-token", f"{secret}\0{channel_key}".encode(), hashlib.sha256).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not base64url text") from exc
