"""Who is asking: an agent's password login, and the signed token that stands for the login
afterwards. One module for every web face: the API's Bearer tokens and the inbox's cookie
session (bridge/web/session.py) carry the same tokens.

Each login is a row (accounts/models.py) that the token names. A token is refused once it
expires, once its login is signed out (that login only: the agent's other clients stay in),
and once the agent's password changes (its token_version: every login at once).
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.accounts.models import Login
from bridge.accounts.passwords import verify_password
from bridge.models import Agent, Shop

SALT = "kefu-agent-api"
# A username in more shops than this is a generic one ("admin", "客服1"), not one person's
# stores: the shops past it are not tried, so a login costs at most this many argon2 checks.
MOST_SHOPS = 20


def authenticate(session: Session, shop_key: str, username: str, password: str) -> Agent | None:
    """The active agent with these credentials; None, in the same time, for anything else."""
    agent = session.scalar(
        select(Agent).join(Shop, Shop.id == Agent.shop_id)
        .where(Shop.key == shop_key, Agent.username == username, Agent.active.is_(True)))
    if not verify_password(agent.password_hash if agent else None, password):
        return None
    return agent


def same_person_elsewhere(session: Session, agent: Agent, password: str) -> list[tuple[Agent, Shop]]:
    """The active agents of other shops with AGENT's username whose password is PASSWORD too:
    one person serving several stores, who signs in once and switches (web/inbox). Each is
    checked with the same argon2 verification as a login, by shop id order, MOST_SHOPS at most."""
    rows = session.execute(
        select(Agent, Shop).join(Shop, Shop.id == Agent.shop_id)
        .where(Agent.username == agent.username, Agent.id != agent.id, Agent.active.is_(True))
        .order_by(Shop.id).limit(MOST_SHOPS)).all()
    return [(other, shop) for other, shop in rows if verify_password(other.password_hash, password)]


def vouched_agent(session: Session, agent_id: object, version: object) -> Agent | None:
    """The agent a signed claim names (a token, an inbox session's other shops), while it is
    active and its password unchanged since the claim was made (its token_version)."""
    agent = session.get(Agent, agent_id) if isinstance(agent_id, int) else None
    if agent is None or not agent.active or agent.token_version != version:
        return None
    return agent


def sign_in(session: Session, secret: str, agent: Agent, now: datetime) -> tuple[Login, str]:
    """A new login of AGENT (added, not committed) and the token that names it."""
    login = Login(shop_id=agent.shop_id, id=secrets.token_hex(16), agent_id=agent.id, agent=agent,
                  created_at=now, last_seen_at=now)
    session.add(login)
    token = URLSafeTimedSerializer(secret, salt=SALT).dumps(
        {"a": agent.id, "v": agent.token_version, "l": login.id})
    return login, token


def login_for_token(session: Session, secret: str, token: str, max_age: int) -> Login | None:
    """The login the token names, while the token is unexpired, the login not signed out and
    the agent's password unchanged; its `agent` is the one asking."""
    try:
        claims = URLSafeTimedSerializer(secret, salt=SALT).loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("a"), int) or not isinstance(claims.get("l"), str):
        return None  # a token from before logins were rows names none: log in again
    agent = vouched_agent(session, claims["a"], claims.get("v"))
    if agent is None:
        return None
    login = session.get(Login, (agent.shop_id, claims["l"]))
    return login if login is not None and login.agent_id == agent.id else None


def sign_out(session: Session, login: Login) -> None:
    """End this login (not committed): its token is refused from the commit on."""
    session.delete(login)


def purge_expired(session: Session, now: datetime, max_age: timedelta) -> int:
    """Delete the logins whose tokens have expired (committed); returns how many."""
    gone = session.execute(delete(Login).where(Login.created_at < now - max_age)).rowcount
    session.commit()
    return gone
