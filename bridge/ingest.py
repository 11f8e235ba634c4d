"""The inbound pipeline: store → auto-reply → dedupe, in one transaction per push.

Every push WeChat sends comes through here, so it is a few plain SQL statements on the
DB-API connection of the request's transaction, not ORM units of work (bench/README.md has
the figures before and after):

1. the shopper: one upsert, which also records the send window and `last_inbound_at`;
2. the shopper's open conversation: one upsert on the one-open-conversation-per-shopper
   index. It opens a conversation or advances the open one *as it is in the database at that
   moment* (with the bot → queued for routing, unless a rule answers), so no agent or timer
   can slip in between a read and a write;
3. the shopper's message and the bot's answer;
4. the receipt, a plain INSERT on the unique (channel, external id): **the dedupe point**.
   A conflict means a copy of this push is already stored: everything is rolled back and
   the copy gets the first one's answer. A retry that arrives while the first copy is in
   flight waits on the shopper's row (PostgreSQL) or on the write lock (SQLite) first.

On PostgreSQL an ordinary message is all of this as one statement (data-modifying CTEs) in
a transaction of its own: one round trip. A text that may be an answer to a rating card
("5", "3个都要") runs the steps one by one in a transaction, as on SQLite, because the
shopper's row decides what it is: the card is taken by `lifecycle.take_rating`, through the
ORM services it shares with the agent API, on the same connection. (There, 3–4 go out
together with the COMMIT, in psycopg's pipeline mode.) Events only touch the shopper and
the receipt.

The connection comes from the webhooks' own pool, which does not ping before a checkout; a
push that meets a dead connection is taken again on a new one (see `ingest`).
"""
from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import and_, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bridge.autoreply import Matcher, fold
from bridge.effects import Effects
from bridge.lifecycle import RATING, take_rating
from bridge.messaging import ChannelConfig, InboundMessage, Reply, SendWindow
from bridge.models import WAITING_STATES, Customer

log = logging.getLogger(__name__)

HANDOFF = ("人工", "转人工", "人工客服", "找人工", "真人", "human", "agent")
# While a human serves the shopper, keyword rules stay quiet.
BOT_ANSWERS_IN = ("bot", *WAITING_STATES)
RECEIPT_CONSTRAINT = "uq_inbound_receipts_channel_id"


def asks_for_human(text: str | None) -> bool:
    return bool(text) and (fold(text) in HANDOFF or "转人工" in text)


class Duplicate(Exception):
    """The receipt is taken: a copy of this push is already stored."""


def ingest(engine: Engine, channel: ChannelConfig, inbound: InboundMessage, matcher: Matcher,
           settings: dict, window: SendWindow | None, now: datetime) -> Reply | None:
    """Store one push exactly once and return its passive reply, if any. Commits.

    A connection that turns out to be dead (the database restarted since it was pooled) is
    dropped and the push is taken once more on a new one. That is safe whatever the dead
    connection managed to do: if it committed, the receipt answers the second attempt.
    """
    for attempt in (1, 2):
        with engine.connect() as conn:
            store = _Store(conn)
            try:
                if inbound.kind == "event":
                    return _event(store, channel, inbound, window, now)
                return _message(store, channel, inbound, matcher, settings, window, now)
            except Duplicate:
                return _replay(store, channel, inbound)
            except Exception as exc:
                if attempt == 2 or not store.lost(exc):
                    raise
                conn.invalidate()
        log.warning("channel %s: database connection lost; taking push %s again on a new one",
                    channel.key, inbound.external_id)
        engine.dispose()  # the pool's other connections are as dead as this one
    raise AssertionError("unreachable")


def _message(store: _Store, channel: ChannelConfig, inbound: InboundMessage, matcher: Matcher,
             settings: dict, window: SendWindow | None, now: datetime) -> Reply | None:
    is_chat = inbound.kind in ("text", "voice")
    handoff = is_chat and asks_for_human(inbound.text)
    rule = matcher.match(inbound.text) if is_chat and not handoff else None
    robot_fallback = (settings.get("robot_fallback_message") or None) if settings.get("robot_first") else None
    # What the message does to a conversation with the bot: routing, unless a rule (or a
    # robot-first shop) answers. A hand-off request always goes to routing.
    leaves_bot = handoff or (rule is None and not settings.get("robot_first"))
    # The bot's answer, and the conversation states in which it is given.
    if rule is not None:
        reply = Reply(type=rule.reply.get("type", "text"), text=rule.reply.get("text"),
                      media_id=rule.reply.get("media_id"))
        answer = _Answer(reply, {"auto_reply_id": rule.id}, BOT_ANSWERS_IN)
    elif robot_fallback and not handoff:
        answer = _Answer(Reply(type="text", text=robot_fallback), {"robot_fallback": True}, ("bot",))
    else:
        answer = None
    may_rate = inbound.kind == "text" and RATING.match(inbound.text or "") is not None
    effects = Effects(channel.shop_id)
    if store.pg and not may_rate:
        pushed = store.push_message(channel, inbound, window, leaves_bot, answer, now)
    else:
        pushed = _message_steps(store, channel, inbound, settings, window, leaves_bot, answer,
                                may_rate, effects, now)
    conversation = pushed.conversation
    if conversation.queued_now:
        effects.dispatch = True
        effects.publish("conversation.queued", conversation.id, queue=True, state="queued")
    effects.publish("message.created", conversation.id, conversation.agent_id,
                    queue=conversation.agent_id is None, message_id=pushed.message_id)
    effects.after_commit()
    if pushed.lapse_rating is not None:
        # PostgreSQL's one statement cannot write the shopper's row twice: the old card lapses
        # just after it, and only if it is still the one pending. The push is stored and
        # answered already; if this fails, a "5" may still rate the old conversation.
        try:
            store.lapse_rating(pushed.customer_id, pushed.lapse_rating)
        except Exception:  # noqa: BLE001 — logged; the push itself must still get its answer
            log.exception("customer %s: rating card %s did not lapse", pushed.customer_id,
                          pushed.lapse_rating)
    return answer.reply if answer is not None and pushed.answered else None


def _message_steps(store: _Store, channel: ChannelConfig, inbound: InboundMessage, settings: dict,
                   window: SendWindow | None, leaves_bot: bool, answer: _Answer | None,
                   may_rate: bool, effects: Effects, now: datetime) -> _Pushed:
    """The push statement by statement, in one transaction: SQLite, and on PostgreSQL a text
    that may be a rating ("5"), which the shopper's row decides and the ORM takes. On
    PostgreSQL the writes after the decision go out together, with the COMMIT."""
    stamp = store.stamp(now)
    store.begin()
    customer_id, rating_pending = store.upsert_shopper(channel, inbound.user_id, window, now)
    rated = None
    if may_rate and rating_pending is not None:
        with Session(bind=store.conn) as session:  # joins this transaction, never commits it
            customer = session.get(Customer, customer_id)
            rated = take_rating(session, effects, settings, customer, inbound.text, now)
            if rated is not None:
                rated.last_customer_message_at = now
            session.flush()
            if rated is not None:  # an answer to the rating card: the message joins that conversation
                conversation = _Conversation(rated.id, rated.state, rated.agent_id, is_new=False,
                                             queued_now=False)
    if rated is None:
        conversation = _Conversation.of(
            store.upsert_conversation(channel, inbound.user_id, leaves_bot, stamp), stamp)
    ids = store.reserve_message_ids(2 if answer else 1)
    answered = answer is not None and rated is None and conversation.state in answer.states

    with store.round_trip():
        if conversation.is_new and rating_pending is not None:
            # The shopper moved on: the old card lapses, or "3个都要" would be taken as a rating.
            store.lapse_rating(customer_id, rating_pending)
        message = store.add_message(ids[0], channel, conversation.id, inbound_row(inbound, stamp))
        bot = None
        if answered:
            bot = store.add_message(ids[1], channel, conversation.id,
                                    bot_row(answer.reply, answer.source, stamp))
        store.take_receipt(channel, inbound, customer_id, message, bot, stamp)
        store.commit()
    return _Pushed(customer_id, conversation, message, answered)


def _event(store: _Store, channel: ChannelConfig, inbound: InboundMessage,
           window: SendWindow | None, now: datetime) -> None:
    stamp = store.stamp(now)
    store.begin()
    customer_id = store.upsert_event_shopper(channel, inbound, window, now)
    payload = {"event": inbound.event, "key": inbound.event_key,
               "media": dict(inbound.media) if inbound.media else None}
    with store.round_trip():
        store.take_receipt(channel, inbound, customer_id, None, None, stamp, payload)
        store.commit()


def _replay(store: _Store, channel: ChannelConfig, inbound: InboundMessage) -> Reply | None:
    """A duplicate: this copy's writes are rolled back; answer what the first copy answered."""
    row = store.replay(channel, inbound)
    if row is None:  # the receipt conflicted, so it exists; vanished only if purged meanwhile
        raise RuntimeError(f"push {inbound.external_id}: receipt conflict but no receipt")
    receipt_id, type_, text, media = row
    log.info("channel %s: duplicate push %s answered from receipt %s",
             channel.key, inbound.external_id, receipt_id)
    if type_ is None:
        return None
    if isinstance(media, str):
        media = json.loads(media)
    return Reply(type=type_, text=text, media_id=(media or {}).get("media_id"))


@dataclass
class _Answer:
    reply: Reply
    source: dict
    states: tuple[str, ...]  # the conversation states in which the bot gives it


@dataclass
class _Pushed:
    customer_id: int
    conversation: _Conversation
    message_id: int
    answered: bool
    lapse_rating: int | None = None  # a rating card the shopper left by opening a new conversation


@dataclass
class _Conversation:
    id: int
    state: str
    agent_id: int | None
    is_new: bool
    queued_now: bool  # this message sent it to routing

    @classmethod
    def of(cls, row, stamp: Any) -> _Conversation:
        id_, state, agent_id, created_at, queued_at = row
        return cls(id_, state, agent_id, is_new=created_at == stamp,
                   queued_now=state == "queued" and queued_at == stamp)


def inbound_row(inbound: InboundMessage, stamp: Any) -> dict[str, Any]:
    return {"direction": "in", "sender": "customer", "type": inbound.kind, "text": inbound.text,
            "media": dict(inbound.media) if inbound.media else None, "raw": dict(inbound.raw),
            "external_id": inbound.external_id, "stamp": stamp}


def bot_row(reply: Reply, source: dict, stamp: Any) -> dict[str, Any]:
    return {"direction": "out", "sender": "bot", "type": reply.type, "text": reply.text,
            "media": {"media_id": reply.media_id} if reply.media_id else None, "raw": source,
            "external_id": None, "stamp": stamp}


# -- the statements ---------------------------------------------------------------------------

# Each write is written once, as a template, and put together two ways below: as statements
# of their own (SQLite, and PostgreSQL's step-by-step path) and as PostgreSQL's one statement.
# `{source}` is where a row comes from: nowhere ("WHERE true": SQLite needs a WHERE before an
# upsert's ON CONFLICT) or the row an earlier step returned.

SHOPPER_INSERT = """
INSERT INTO customers (shop_id, channel_id, external_id, last_inbound_at, window_expires_at,
                       window_quota, created_at)
SELECT :shop_id, :channel_id, {openid}, :stamp, :window_expires_at, :window_quota, :stamp
WHERE true
ON CONFLICT (channel_id, external_id) DO UPDATE SET
    last_inbound_at = excluded.last_inbound_at,
    window_expires_at = CASE WHEN :has_window THEN excluded.window_expires_at
                             ELSE customers.window_expires_at END,
    window_quota = CASE WHEN :has_window THEN excluded.window_quota ELSE customers.window_quota END
RETURNING id, rating_conversation_id"""

# A new conversation starts as the message leaves it; an open one moves on from the state it
# has when the row is locked. The predicate is the partial index's own, verbatim.
CONVERSATION_INSERT = """
INSERT INTO conversations (shop_id, channel_id, customer_id, state, queued_at,
                           last_customer_message_at, awaiting_reply_since, created_at)
SELECT :shop_id, :channel_id, {shopper}, :new_state, :new_queued_at, :stamp, :new_awaiting, :stamp
{source}
ON CONFLICT (customer_id) WHERE state != 'ended' DO UPDATE SET
    state = CASE WHEN conversations.state = 'bot' AND :leaves_bot THEN 'queued'
                 ELSE conversations.state END,
    queued_at = CASE WHEN conversations.state = 'bot' AND :leaves_bot THEN excluded.created_at
                     ELSE conversations.queued_at END,
    routed_at = CASE WHEN conversations.state = 'bot' AND :leaves_bot THEN NULL
                     ELSE conversations.routed_at END,
    last_customer_message_at = excluded.last_customer_message_at,
    awaiting_reply_since = CASE WHEN conversations.state = 'bot' AND NOT :leaves_bot
                                THEN conversations.awaiting_reply_since
                                ELSE COALESCE(conversations.awaiting_reply_since, excluded.created_at) END
RETURNING id, state, agent_id, created_at, queued_at"""

MESSAGE_INSERT = """
INSERT INTO messages (id, shop_id, conversation_id, direction, sender, type, text, media, raw,
                      external_id, attempts, created_at, updated_at)
SELECT {id}, :shop_id, {conversation}, {direction}, {sender}, {type}, {text}, {media}, {raw},
       {external_id}, 0, :stamp, :stamp
{source}
RETURNING id"""

RECEIPT_INSERT = """
INSERT INTO inbound_receipts (shop_id, channel_id, external_id, kind, customer_id, message_id,
                              reply_message_id, payload, created_at)
SELECT :shop_id, :channel_id, :external_id, :kind, {customer}, {message}, {reply}, :payload, :stamp
{source}"""

_COLUMNS = ("direction", "sender", "type", "text", "media", "raw", "external_id")

UPSERT_SHOPPER = SHOPPER_INSERT.format(openid=":external_id")
UPSERT_CONVERSATION = CONVERSATION_INSERT.format(
    shopper="(SELECT id FROM customers WHERE channel_id = :channel_id AND external_id = :external_id)",
    source="WHERE true")
ADD_MESSAGE = MESSAGE_INSERT.format(
    id="COALESCE(:id, {next_id})", conversation=":conversation_id", source="",
    **{column: f":{column}" for column in _COLUMNS})
TAKE_RECEIPT = RECEIPT_INSERT.format(customer=":customer_id", message=":message_id",
                                     reply=":reply_message_id", source="")

# PostgreSQL: the same writes as one statement, each reading the rows the one before returned.
# The shopper's row is locked first, as above, so two pushes of one shopper still take turns,
# and a taken receipt fails the statement with everything in it. The bot's answer is written
# only if the conversation is in one of the states `reply_states` names.
PUSH_MESSAGE = f"""
WITH shopper AS ({SHOPPER_INSERT.format(openid=":user_id")}
), conversation AS ({CONVERSATION_INSERT.format(shopper="shopper.id", source="FROM shopper WHERE true")}
), message AS ({MESSAGE_INSERT.format(
    id="nextval('messages_id_seq')", conversation="conversation.id", source="FROM conversation",
    direction="'in'", sender="'customer'", type=":type", text=":text", media=":media", raw=":raw",
    external_id=":external_id")}
), bot AS ({MESSAGE_INSERT.format(
    id="nextval('messages_id_seq')", conversation="conversation.id",
    source="FROM conversation WHERE conversation.state = ANY(CAST(:reply_states AS text[]))",
    direction="'out'", sender="'bot'", type=":reply_type", text=":reply_text",
    media=":reply_media", raw=":reply_raw", external_id="NULL")}
), receipt AS ({RECEIPT_INSERT.format(customer="shopper.id", message="message.id",
                                      reply="(SELECT id FROM bot)", source="FROM shopper, message")}
)
SELECT shopper.id, shopper.rating_conversation_id, conversation.id, conversation.state,
       conversation.agent_id, conversation.created_at, conversation.queued_at, message.id,
       (SELECT id FROM bot)
FROM shopper, conversation, message
"""

LAPSE_RATING = """
UPDATE customers SET rating_conversation_id = NULL
WHERE id = :customer_id AND rating_conversation_id = :card
"""

REPLAY = """
SELECT r.id, m.type, m.text, m.media FROM inbound_receipts r
LEFT OUTER JOIN messages m ON m.id = r.reply_message_id
WHERE r.channel_id = :channel_id AND r.external_id = :external_id
"""

RESERVE_IDS = "SELECT nextval('messages_id_seq') FROM generate_series(1, :n)"


class _Store:
    """ingest's statements on the DB-API connection of a SQLAlchemy connection.

    Parameters are named `:name` in the SQL above and adapted per driver: psycopg gets
    `%(name)s`, datetimes and JSON as its own types; sqlite3 gets the text SQLAlchemy stores
    (so the ORM reads these rows like its own).
    """

    def __init__(self, conn: Connection):
        self.conn = conn
        self.dbapi = conn.connection.dbapi_connection
        self.pg = conn.dialect.name == "postgresql"

    # -- plumbing

    def begin(self) -> None:
        """A transaction (SQLite: BEGIN IMMEDIATE, queued behind the other writers)."""
        self.conn.begin()

    def commit(self) -> None:
        self.conn.commit()

    @contextmanager
    def round_trip(self):
        """On PostgreSQL the statements inside go out together (pipeline mode): their errors,
        a taken receipt among them, surface when the block ends."""
        try:
            if self.pg:
                with self.dbapi.pipeline():
                    yield
            else:
                yield
        except Exception as exc:
            if _is_receipt_conflict(exc):
                self.rollback()
                raise Duplicate() from exc
            raise

    def lost(self, exc: BaseException) -> bool:
        """Whether EXC means the connection is dead (the server restarted or went away)."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        orig = getattr(exc, "orig", None) or exc
        return (isinstance(orig, self.conn.dialect.loaded_dbapi.Error)
                and self.conn.dialect.is_disconnect(orig, self.dbapi, None))

    def rollback(self) -> None:
        # The error may have surfaced inside SQLAlchemy's own commit, which leaves its
        # transaction closed and the driver's aborted: both are ended here.
        self.dbapi.rollback()
        self.conn.rollback()

    def _run(self, sql: str, params: dict[str, Any]):
        return self.dbapi.execute(_sql(sql, self.pg), params)

    def stamp(self, now: datetime) -> Any:
        """`now` as this driver binds it, and as it comes back in RETURNING."""
        return now if self.pg else sqlite_timestamp(now)

    def json(self, value: Any) -> Any:
        if value is None:
            return None
        return Json(value) if self.pg else json.dumps(value)

    # -- statements

    def _shopper(self, channel: ChannelConfig, window: SendWindow | None, now: datetime) -> dict:
        """A shopper's message starts the send window over (FACTS.md §2); events, which may
        only open one, go through `upsert_event_shopper`."""
        return {"shop_id": channel.shop_id, "channel_id": channel.id, "stamp": self.stamp(now),
                "window_expires_at": self.stamp(now + timedelta(seconds=window.seconds)) if window else None,
                "window_quota": window.quota if window else 0, "has_window": window is not None}

    @staticmethod
    def _opening(leaves_bot: bool, stamp: Any) -> dict:
        """What the message does to the conversation (CONVERSATION_INSERT)."""
        return {"leaves_bot": leaves_bot, "new_state": "queued" if leaves_bot else "bot",
                "new_queued_at": stamp if leaves_bot else None,
                "new_awaiting": stamp if leaves_bot else None}

    def _message(self, row: dict[str, Any], prefix: str = "") -> dict:
        """A message's own columns (MESSAGE_INSERT), JSON adapted, named with PREFIX."""
        return {prefix + "type": row["type"], prefix + "text": row["text"],
                prefix + "media": self.json(row["media"]), prefix + "raw": self.json(row["raw"])}

    def upsert_shopper(self, channel: ChannelConfig, user_id: str, window: SendWindow | None,
                       now: datetime) -> tuple[int, int | None]:
        """(customer id, the conversation whose rating card is pending)."""
        row = self._run(UPSERT_SHOPPER, {**self._shopper(channel, window, now),
                                         "external_id": user_id}).fetchone()
        return row[0], row[1]

    def upsert_conversation(self, channel: ChannelConfig, user_id: str, leaves_bot: bool,
                            stamp: Any) -> tuple:
        return self._run(UPSERT_CONVERSATION, {
            "shop_id": channel.shop_id, "channel_id": channel.id, "external_id": user_id,
            "stamp": stamp, **self._opening(leaves_bot, stamp),
        }).fetchone()

    def reserve_message_ids(self, n: int) -> list[int | None]:
        """PostgreSQL: ids drawn ahead, so the inserts after them go out together."""
        if not self.pg:
            return [None] * n
        return [row[0] for row in self._run(RESERVE_IDS, {"n": n}).fetchall()]

    def add_message(self, id_: int | None, channel: ChannelConfig, conversation_id: int,
                    row: dict[str, Any]) -> int:
        cursor = self._run(ADD_MESSAGE, {
            "id": id_, "shop_id": channel.shop_id, "conversation_id": conversation_id, **row,
            **self._message(row),
        })
        return id_ if id_ is not None else cursor.fetchone()[0]

    def take_receipt(self, channel: ChannelConfig, inbound: InboundMessage, customer_id: int,
                     message_id: int | None, reply_id: int | None, stamp: Any,
                     payload: dict | None = None) -> None:
        self._run(TAKE_RECEIPT, {
            "shop_id": channel.shop_id, "channel_id": channel.id,
            "external_id": inbound.external_id, "kind": _receipt_kind(inbound), "customer_id": customer_id,
            "message_id": message_id, "reply_message_id": reply_id,
            "payload": self.json(payload), "stamp": stamp,
        })

    def lapse_rating(self, customer_id: int, card: int) -> None:
        self._run(LAPSE_RATING, {"customer_id": customer_id, "card": card})

    def push_message(self, channel: ChannelConfig, inbound: InboundMessage,
                     window: SendWindow | None, leaves_bot: bool, answer: _Answer | None,
                     now: datetime) -> _Pushed:
        """PostgreSQL: the whole push as one statement in its own transaction, one round trip.
        A taken receipt fails the statement, and with it everything else it did."""
        no_answer = {"type": None, "text": None, "media": None, "raw": None}
        self.conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            row = self._run(PUSH_MESSAGE, {
                **self._shopper(channel, window, now), "user_id": inbound.user_id,
                **self._opening(leaves_bot, now),
                **self._message(inbound_row(inbound, now)), "external_id": inbound.external_id,
                "kind": _receipt_kind(inbound), "payload": None,
                "reply_states": list(answer.states) if answer else [],
                **self._message(bot_row(answer.reply, answer.source, now) if answer else no_answer,
                                "reply_"),
            }).fetchone()
        except Exception as exc:
            if _is_receipt_conflict(exc):
                raise Duplicate() from exc
            raise
        customer_id, rating_pending, *opened, message, bot = row
        conversation = _Conversation.of(opened, now)
        lapse = rating_pending if conversation.is_new and rating_pending is not None else None
        return _Pushed(customer_id, conversation, message, bot is not None, lapse)

    def replay(self, channel: ChannelConfig, inbound: InboundMessage) -> tuple | None:
        return self._run(REPLAY, {"channel_id": channel.id, "external_id": inbound.external_id}).fetchone()

    def upsert_event_shopper(self, channel: ChannelConfig, inbound: InboundMessage,
                             window: SendWindow | None, now: datetime) -> int:
        """Events are rarer and vary in what they change: built with SQLAlchemy Core."""
        values: dict[str, Any] = {"shop_id": channel.shop_id, "channel_id": channel.id,
                                  "external_id": inbound.user_id, "created_at": now,
                                  "window_quota": 0, "window_expires_at": None}
        if window is not None:
            values.update(window_expires_at=now + timedelta(seconds=window.seconds),
                          window_quota=window.quota)
        if inbound.event in ("subscribe", "unsubscribe"):
            values["subscribed"] = inbound.event == "subscribe"
        if inbound.event in ("subscribe", "scan") and inbound.event_key:
            values["entry_scene"] = inbound.event_key
        if inbound.event == "click" and inbound.event_key:
            values["entry_menu"] = inbound.event_key
        fields = tuple(k for k in ("subscribed", "entry_scene", "entry_menu") if k in values)
        mode = None if window is None else "reset" if window.resets else "open"
        stmt = _event_upsert(self.conn.dialect.name, mode, fields)
        return self.conn.execute(stmt, values).scalar_one()


@lru_cache(maxsize=64)
def _event_upsert(dialect: str, window_mode: str | None, fields: tuple[str, ...]):
    customers = Customer.__table__
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(customers)
    new = stmt.excluded
    set_: dict[str, Any] = {name: new[name] for name in fields}
    if window_mode == "reset":
        set_.update(window_expires_at=new.window_expires_at, window_quota=new.window_quota)
    elif window_mode == "open":  # a follow or click opens a window only if none is open
        still_open = and_(customers.c.window_expires_at > new.created_at, customers.c.window_quota > 0)
        set_.update(
            window_expires_at=case((still_open, customers.c.window_expires_at), else_=new.window_expires_at),
            window_quota=case((still_open, customers.c.window_quota), else_=new.window_quota),
        )
    if not set_:  # DO UPDATE, not NOTHING, so that RETURNING yields the row
        set_ = {"external_id": new.external_id}
    return stmt.on_conflict_do_update(
        index_elements=[customers.c.channel_id, customers.c.external_id], set_=set_,
    ).returning(customers.c.id)


def _receipt_kind(inbound: InboundMessage) -> str:
    return inbound.kind if inbound.kind != "event" else f"event:{inbound.event}"


def _is_receipt_conflict(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps what it raises
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)  # psycopg
    return constraint == RECEIPT_CONSTRAINT or "UNIQUE constraint failed: inbound_receipts." in str(orig)


_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=64)
def _sql(sql: str, pg: bool) -> str:
    if not pg:
        return sql.replace("{next_id}", "NULL")
    return _PARAM.sub(r"%(\1)s", sql.replace("{next_id}", "nextval('messages_id_seq')"))


def sqlite_timestamp(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy's SQLite DateTime stores it (naive ISO, microseconds)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

