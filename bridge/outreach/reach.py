"""An agent starts a conversation (主动发起会话), within the rules shoppers and WeChat hold the shop
to: only with a shopper who ordered or wrote in the last 30 days and is not blocked; on a WeChat
channel only inside the send window the shopper's last message opened (and its message cap);
outside it, where the shop set one up, a template notice that brings the shopper back — an OA
template message, or a Mini Program subscribe message the shopper agreed to receive — and
otherwise a refusal that says why. The widget has no window: the shopper sees the message when
they next open the shop's page. Every outreach is kept with its agent.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge import delivery
from bridge.channels import registry
from bridge.conversations.assignment import assign, lock_shop
from bridge.customers import blocks
from bridge.effects import Effects
from bridge.events import names, payloads
from bridge.models import OPEN_STATES, Agent, Channel, Conversation, Customer, Message, Shop
from bridge.outreach.models import Outreach, SubscribeConsent
from bridge.shopdata import read
from bridge.visibility import audience

RECENT_DAYS = 30


class Refused(Exception):
    """The outreach is not allowed; CODE names the rule, the message says it to the agent."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Reached:
    conversation: Conversation
    message: Message
    how: str  # message | template


def way(session: Session, customer: Customer, channel: Channel, now: datetime) -> str:
    """How the shopper can be reached now: "message" or "template", else Refused saying why."""
    if blocks.block_of(session, customer) is not None:
        raise Refused("blocked", "the shopper is blocked")
    if not recent(session, customer, now):
        raise Refused("not_recent", f"only shoppers who ordered or wrote in the last {RECENT_DAYS} days "
                                    "may be contacted first")
    if registry.get(channel.kind).capabilities.send_window is None:
        return "message"
    if channel.kind == "wechat_oa" and customer.subscribed is False:
        raise Refused("not_subscribed", "the shopper no longer follows the Official Account: it cannot write to them")
    if customer.window_expires_at is not None and customer.window_expires_at > now and customer.window_quota > 0:
        return "message"
    template = (channel.settings or {}).get("outreach_template")
    if not template:
        raise Refused("window_closed", "the shopper last wrote over 48 hours ago (or the messages their last "
                                       "message allows are spent), and this channel has no outreach template: "
                                       "WeChat lets the shop write again once the shopper does")
    if channel.kind == "wechat_mp" and not _consents(session, customer, template["template_id"]):
        raise Refused("no_consent", "outside the 48-hour window a Mini Program shopper is reached only by a "
                                    "subscribe message they agreed to receive, and this one has not")
    return "template"


def recent(session: Session, customer: Customer, now: datetime) -> bool:
    """Wrote (on any channel linked to them) or ordered in the last RECENT_DAYS days."""
    since = now - timedelta(days=RECENT_DAYS)
    rows, buyers = read.shopper(session, customer)
    if any(r.last_inbound_at is not None and r.last_inbound_at >= since for r in rows):
        return True
    return any(o.created_at >= since for o in read.orders_of(session, customer.shop_id, buyers, limit=1))


def reach(session: Session, agent: Agent, customer: Customer, text: str, now: datetime) -> Reached:
    """Send TEXT to CUSTOMER from AGENT, opening (or taking) the shopper's conversation; commits."""
    shop = lock_shop(session, customer.shop_id)  # capacity and the shopper's one open conversation
    channel = session.get(Channel, customer.channel_id)
    how = way(session, customer, channel, now)
    effects = Effects(shop.id)
    conversation = session.scalar(select(Conversation).where(Conversation.customer_id == customer.id,
                                                             Conversation.state.in_(OPEN_STATES)))
    if conversation is not None and conversation.state == "active" and conversation.agent_id != agent.id:
        raise Refused("taken", f"{conversation.agent.name} is serving this shopper now")
    if conversation is not None and conversation.state != "active":  # routing decides who takes them
        raise Refused("waiting", f"the shopper has a conversation {conversation.state}: take it from the queue "
                                 "instead (routing may keep it for their own agent)")
    if conversation is None or conversation.agent_id != agent.id:
        active = session.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.agent_id == agent.id, Conversation.state == "active"))
        if active >= agent.max_concurrent:
            raise Refused("full", f"you serve {active} shoppers, your most ({agent.max_concurrent}): end one first")
        if conversation is None:
            conversation = Conversation(shop_id=shop.id, channel_id=channel.id, customer_id=customer.id,
                                        state="queued", queued_at=now, created_at=now)
            session.add(conversation)
            try:
                session.flush()
            except IntegrityError:  # the shopper wrote at this moment: their message opened it
                session.rollback()
                raise Refused("busy", "the shopper just wrote: open their conversation instead") from None
            effects.publish(names.CONVERSATION_OPENED, conversation.id,
                            audience(None, "queued", customer.id), payloads.conversation(conversation))
        assign(session, effects, shop, conversation, agent, None, now, how="outreach")
    notice = _notice(session, channel, customer, shop, agent, text) if how == "template" else None
    message = delivery.create_outbound(session, conversation, "agent", "template" if notice else "text", text, now,
                                       agent_id=agent.id, media=notice)
    session.add(Outreach(shop_id=shop.id, agent_id=agent.id, customer_id=customer.id,
                         conversation_id=conversation.id, message_id=message.id, how=how, created_at=now))
    effects.deliver(message.id, "agent")
    effects.publish(names.MESSAGE_CREATED, conversation.id, audience(agent.id, "active", customer.id),
                    payloads.message(message))
    effects.commit(session)
    return Reached(conversation, message, how)


def _notice(session: Session, channel: Channel, customer: Customer, shop: Shop, agent: Agent, text: str) -> dict:
    """The template notice: its id, where it opens, and its fields with {text}, {agent} and {shop}
    filled in (only those three: a shop's field is not a format string). A Mini Program's spends
    one of the shopper's agreements."""
    template = channel.settings["outreach_template"]
    if channel.kind == "wechat_mp":
        consent = _consents(session, customer, template["template_id"])
        consent.remaining -= 1
    fill = {"{text}": text, "{agent}": agent.name, "{shop}": shop.name}
    data = {}
    for name, value in template["fields"].items():
        for token, said in fill.items():
            value = value.replace(token, said)
        data[name] = value
    return {"template_id": template["template_id"], "url": template.get("url"), "page": template.get("page"),
            "data": data}


def _consents(session: Session, customer: Customer, template_id: str) -> SubscribeConsent | None:
    consent = session.get(SubscribeConsent, (customer.shop_id, customer.channel_id, customer.external_id, template_id))
    return consent if consent is not None and consent.remaining > 0 else None
