"""Every Redis key the bridge writes, in one place (RQ keeps its own under `rq:`).

A shop's keys carry the shop in a hash tag, `{shop:42}:…`, so Redis Cluster can shard them
by shop. Adapters keep their own keys under the prefix they are handed: the Official
Account's access token is `{shop:42}:wechat:<app id>:access_token`.
"""
from __future__ import annotations

from datetime import date


def shop_prefix(shop_id: int) -> str:
    return f"{{shop:{shop_id}}}"


def events_log(shop_id: int) -> str:
    """The stream of the shop's live events (bridge/events/log.py)."""
    return f"{shop_prefix(shop_id)}:events"


def streams_of_agent(shop_id: int, agent_id: int) -> str:
    """The agent's open event streams, each until its lease ends (events/slots.py)."""
    return f"{shop_prefix(shop_id)}:streams:agent:{agent_id}"


def streams_of_address(address: str) -> str:
    """The open event streams of one client address, whichever shops they serve."""
    return f"streams:address:{address}"


def dispatch_flag(shop_id: int) -> str:
    """Set while a dispatch job for the shop waits (tasks.enqueue_dispatch)."""
    return f"{shop_prefix(shop_id)}:dispatch_pending"


def typing_shown(shop_id: int, conversation_id: int) -> str:
    """Set while the shopper is being shown that the agent types (bridge/typing_indicator.py)."""
    return f"{shop_prefix(shop_id)}:typing:{conversation_id}"


def agent_away(shop_id: int, agent_id: int) -> str:
    """Set once the agent's going away has been told; cleared when it is heard from
    (accounts/presence.py)."""
    return f"{shop_prefix(shop_id)}:away:{agent_id}"


def login_failures(kind: str, subject: str) -> str:
    """Failed logins of an account (a hash of shop and username) or an address, in the
    current window (accounts/throttle.py)."""
    return f"kefu:login_failures:{kind}:{subject}"


def sweep_slot(slot: int) -> str:
    """Taken by the one ticker that enqueues this interval's sweep."""
    return f"kefu:sweep:{slot}"


def delivery_job(message_id: int) -> str:
    """The RQ job id of a message's delivery: one job per outbox row, however often enqueued."""
    return f"deliver-{message_id}"


def media_fetch_job(message_id: int) -> str:
    """The RQ job id of fetching a shopper's media: one job per message, however often enqueued."""
    return f"fetch-media-{message_id}"


def sweep_job(slot: int) -> str:
    """The RQ job id of one interval's sweep."""
    return f"sweep-{slot}"


def retention_day(day: date) -> str:
    """Taken by the one sweep that enqueues the day's retention purge."""
    return f"kefu:retention:{day:%Y-%m-%d}"


def channel_media(shop_id: int, channel_id: int, digest: str) -> str:
    """The channel's media id for a stored file (media/uploads.py), while the channel keeps it."""
    return f"{shop_prefix(shop_id)}:media:{channel_id}:{digest}"


def widget_calls(what: str, subject: str, window: int) -> str:
    """Calls of the widget's API by one shopper or address in one window (web/widget/limits.py)."""
    return f"kefu:widget:{what}:{subject}:{window}"


def streams_of_visitor(shop_id: int, channel_id: int, shopper_digest: str) -> str:
    """A widget shopper's open event streams (events/slots.py)."""
    return f"{shop_prefix(shop_id)}:streams:widget:{channel_id}:{shopper_digest}"


def widget_streams_of_address(address: str) -> str:
    """The open widget streams of one client address: apart from the agents' (streams_of_address),
    so shoppers behind one address never take the agents' streams."""
    return f"streams:widget-address:{address}"


def hot_products(shop_id: int) -> str:
    """The shop's hot products, as counted last (bridge/shopdata/hotcache.py)."""
    return f"{shop_prefix(shop_id)}:shopdata:hot"
