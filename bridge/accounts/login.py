"""Who is asking: an agent's password login, and the signed token that stands for the login
afterwards. One module for every web face: the API's Bearer tokens now, the inbox's cookie
session next. A token expires, and dies with the agent's password (its token_version)."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.accounts.passwords import verify_password
from bridge.models import Agent, Shop

SALT = "kefu-agent-api"


def authenticate(session: Session, shop_key: str, username: str, password: str) -> Agent | None:
    """The active agent with these credentials; None, in the same time, for anything else."""
    agent = session.scalar(
        select(Agent).join(Shop, Shop.id == Agent.shop_id)
        .where(Shop.key == shop_key, Agent.username == username, Agent.active.is_(True)))
    if not verify_password(agent.password_hash if agent else None, password):
        return None
    return agent


def issue_token(secret: str, agent: Agent) -> str:
    return URLSafeTimedSerializer(secret, salt=SALT).dumps({"a": agent.id, "v": agent.token_version})


def agent_for_token(session: Session, secret: str, token: str, max_age: int) -> Agent | None:
    """The agent the token stands for, while it is unexpired and its password unchanged."""
    try:
        claims = URLSafeTimedSerializer(secret, salt=SALT).loads(token, max_age=max_age)
    except BadSignature:
        return None
    agent = session.get(Agent, claims.get("a")) if isinstance(claims, dict) else None
    if agent is None or not agent.active or agent.token_version != claims.get("v"):
        return None
    return agent
