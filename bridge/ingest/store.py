"""ingest's statements (statements.py) on the DB-API connection under a SQLAlchemy connection.

Parameters are adapted per driver: psycopg gets `%(name)s`, datetimes and JSON as its own
types; sqlite3 gets the text SQLAlchemy stores (so the ORM reads these rows like its own).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import and_, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from bridge.channels.contract import ChannelConfig, InboundMessage, SendWindow
from bridge.ingest import statements as sql
from bridge.ingest.decision import Answer
from bridge.ingest.rows import Opened, bot_row, inbound_row
from bridge.models import Customer

RECEIPT_CONSTRAINT = "uq_inbound_receipts_channel_id"


class Duplicate(Exception):
    """The receipt is taken: a copy of this push is already stored."""


class Store:
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
            if is_receipt_conflict(exc):
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

    def _run(self, statement: str, params: dict[str, Any]):
        return self.dbapi.execute(sql.for_driver(statement, self.pg), params)

    def stamp(self, now: datetime) -> Any:
        """`now` as this driver binds it, and as it comes back in RETURNING."""
        return now if self.pg else sqlite_timestamp(now)

    def json(self, value: Any) -> Any:
        if value is None:
            return None
        return Json(value) if self.pg else json.dumps(value)

    # -- parameters

    def _shopper(self, channel: ChannelConfig, window: SendWindow | None, now: datetime) -> dict:
        """A shopper's message starts the send window over; events, which may only open one,
        go through `upsert_event_shopper`."""
        return {"shop_id": channel.shop_id, "channel_id": channel.id, "stamp": self.stamp(now),
                "window_expires_at": self.stamp(now + timedelta(seconds=window.seconds)) if window else None,
                "window_quota": window.quota if window else 0, "has_window": window is not None}

    @staticmethod
    def _opening(leaves_bot: bool, stamp: Any) -> dict:
        """What the message does to the conversation (CONVERSATION_INSERT)."""
        return {"leaves_bot": leaves_bot, "new_state": "queued" if leaves_bot else "bot",
                "new_queued_at": stamp if leaves_bot else None,
                "new_awaiting": stamp if leaves_bot else None}

    def _message(self, row: Mapping[str, Any], prefix: str = "") -> dict:
        """A message's own columns (MESSAGE_INSERT), JSON adapted, named with PREFIX."""
        return {prefix + "type": row["type"], prefix + "text": row["text"],
                prefix + "media": self.json(row["media"]), prefix + "raw": self.json(row["raw"]),
                prefix + "delivery": row["delivery"]}

    # -- statements, one at a time

    def upsert_shopper(self, channel: ChannelConfig, user_id: str, window: SendWindow | None,
                       now: datetime) -> tuple[int, int | None, str | None]:
        """(customer id, the conversation whose rating card is pending, the shopper's nickname)."""
        row = self._run(sql.UPSERT_SHOPPER, {**self._shopper(channel, window, now),
                                             "external_id": user_id}).fetchone()
        return row[0], row[1], row[2]

    def upsert_conversation(self, channel: ChannelConfig, user_id: str, leaves_bot: bool,
                            stamp: Any) -> Opened:
        return Opened.of(self._run(sql.UPSERT_CONVERSATION, {
            "shop_id": channel.shop_id, "channel_id": channel.id, "external_id": user_id,
            "stamp": stamp, **self._opening(leaves_bot, stamp),
        }).fetchone(), stamp)

    def rate(self, customer_id: int, card: int, score: int, comment: str | None, stamp: Any,
             card_since: Any) -> tuple[Opened, str | None] | None:
        """Take the card's answer: (the rated conversation, its agent's name), or None if the
        conversation was rated meanwhile or the card has expired. The card is taken either way."""
        self.lapse_rating(customer_id, card)
        row = self._run(sql.RATE, {"card": card, "score": score, "comment": comment, "stamp": stamp,
                                   "card_since": card_since}).fetchone()
        if row is None:
            return None
        rated = Opened.of(row, stamp)
        return rated, rated.columns["agent_name"]

    def hint(self, card: int, stamp: Any, card_since: Any) -> Opened | None:
        """The card's conversation, if its shopper is to be told how to answer it (once)."""
        row = self._run(sql.HINT, {"card": card, "stamp": stamp, "card_since": card_since}).fetchone()
        return Opened.of(row, stamp) if row else None

    def reserve_message_ids(self, n: int) -> list[int | None]:
        """PostgreSQL: ids drawn ahead, so the inserts after them go out together."""
        if not self.pg:
            return [None] * n
        return [row[0] for row in self._run(sql.RESERVE_IDS, {"n": n}).fetchall()]

    def add_message(self, id_: int | None, channel: ChannelConfig, conversation_id: int,
                    row: Mapping[str, Any]) -> int:
        cursor = self._run(sql.ADD_MESSAGE, {
            "id": id_, "shop_id": channel.shop_id, "conversation_id": conversation_id, **row,
            **self._message(row),
        })
        return id_ if id_ is not None else cursor.fetchone()[0]

    def take_receipt(self, channel: ChannelConfig, inbound: InboundMessage, customer_id: int,
                     message_id: int | None, reply_id: int | None, stamp: Any,
                     payload: dict | None = None) -> None:
        self._run(sql.TAKE_RECEIPT, {
            "shop_id": channel.shop_id, "channel_id": channel.id,
            "external_id": inbound.external_id, "kind": receipt_kind(inbound), "customer_id": customer_id,
            "message_id": message_id, "reply_message_id": reply_id,
            "payload": self.json(payload), "stamp": stamp,
        })

    def lapse_rating(self, customer_id: int, card: int) -> None:
        self._run(sql.LAPSE_RATING, {"customer_id": customer_id, "card": card})

    def replay(self, channel: ChannelConfig, inbound: InboundMessage) -> tuple | None:
        return self._run(sql.REPLAY, {"channel_id": channel.id, "external_id": inbound.external_id}).fetchone()

    # -- PostgreSQL: the whole push as one statement

    def push_message(self, channel: ChannelConfig, inbound: InboundMessage,
                     window: SendWindow | None, leaves_bot: bool, answer: Answer | None,
                     answer_delivery: str | None, now: datetime) -> tuple | None:
        """In a transaction of its own, one round trip. A taken receipt fails the statement,
        and with it everything else it did. → (customer id, the conversation, the message's
        id, the bot's answer's id or None, the shopper's nickname); None when the shopper has
        the rating card of an ended conversation pending: then only the shopper's row was
        written, and the push is for the steps (a second upsert of the shopper writes the
        same values)."""
        no_answer = {"type": None, "text": None, "media": None, "raw": None, "delivery": None}
        self.conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            row = self._run(sql.PUSH_MESSAGE, {
                **self._shopper(channel, window, now), "user_id": inbound.user_id,
                **self._opening(leaves_bot, now),
                **self._message(inbound_row(inbound, now)), "external_id": inbound.external_id,
                "kind": receipt_kind(inbound), "payload": None,
                "reply_states": list(answer.states) if answer else [],
                **self._message(bot_row(answer.reply, answer.source, answer_delivery, now)
                                if answer else no_answer, "reply_"),
            }).fetchone()
        except Exception as exc:
            if is_receipt_conflict(exc):
                raise Duplicate() from exc
            raise
        if row is None:
            return None
        customer_id, _card, nickname, message, bot, *opened = row
        return customer_id, Opened.of(opened, now), message, bot, nickname

    def transactional(self) -> None:
        """Back from the one statement's autocommit to transactions, for the steps."""
        self.conn.execution_options(isolation_level=self.conn.default_isolation_level)

    # -- events

    def upsert_event_shopper(self, channel: ChannelConfig, inbound: InboundMessage,
                             window: SendWindow | None, now: datetime) -> int:
        """Events are rarer and vary in what they change: built with SQLAlchemy Core. What an
        event means (a follow, a scene, a menu key) the adapter has said on the message."""
        values: dict[str, Any] = {"shop_id": channel.shop_id, "channel_id": channel.id,
                                  "external_id": inbound.user_id, "created_at": now,
                                  "window_quota": 0, "window_expires_at": None}
        if window is not None:
            values.update(window_expires_at=now + timedelta(seconds=window.seconds),
                          window_quota=window.quota)
        if inbound.follows is not None:
            values["subscribed"] = inbound.follows
        for entry in ENTRY_KEYS:
            if inbound.entry.get(entry):
                values[f"entry_{entry}"] = inbound.entry[entry]
        fields = tuple(k for k in ("subscribed", *(f"entry_{e}" for e in ENTRY_KEYS)) if k in values)
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


ENTRY_KEYS = ("scene", "menu", "product", "order", "page")  # customers.entry_<key>


def receipt_kind(inbound: InboundMessage) -> str:
    return inbound.kind if inbound.kind != "event" else f"event:{inbound.event}"


def is_receipt_conflict(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps what it raises
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)  # psycopg
    return constraint == RECEIPT_CONSTRAINT or "UNIQUE constraint failed: inbound_receipts." in str(orig)


def sqlite_timestamp(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy's SQLite DateTime stores it (naive ISO, microseconds)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
