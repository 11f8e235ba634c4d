"""ingest's SQL: each write written once, as a template, put together two ways.

As statements of their own (SQLite, and PostgreSQL's step-by-step path) and as PostgreSQL's
one statement. `{source}` is where a row comes from: nowhere ("WHERE true": SQLite needs a
WHERE before an upsert's ON CONFLICT) or the row an earlier step returned. Parameters are
named `:name` and adapted per driver by `for_driver`.
"""
from __future__ import annotations

import re
from functools import lru_cache

# What the writes of a conversation return: its row as the agent API shows it (bridge/shapes.py),
# with its agent's and group's names, so the push's live events need no query of their own.
CONVERSATION_COLUMNS = ("id", "state", "agent_id", "created_at", "queued_at", "assigned_at", "ended_at",
                        "last_customer_message_at", "awaiting_reply_since", "first_response_at",
                        "end_reason", "rating_score", "rating_comment", "rated_at")
CONVERSATION_RETURNING = "RETURNING " + ", ".join(CONVERSATION_COLUMNS) + """,
    (SELECT username FROM agents WHERE agents.id = conversations.agent_id) AS agent_username,
    (SELECT name FROM agents WHERE agents.id = conversations.agent_id) AS agent_name,
    (SELECT "key" FROM groups WHERE groups.id = conversations.group_id) AS group_key"""
RETURNED = (*CONVERSATION_COLUMNS, "agent_username", "agent_name", "group_key")

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
RETURNING id, rating_conversation_id, nickname"""

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
""" + CONVERSATION_RETURNING

MESSAGE_INSERT = """
INSERT INTO messages (id, shop_id, conversation_id, direction, sender, type, text, media, raw,
                      external_id, delivery, expects_reply, attempts, created_at, updated_at)
SELECT {id}, :shop_id, {conversation}, {direction}, {sender}, {type}, {text}, {media}, {raw},
       {external_id}, {delivery}, {expects_reply}, 0, :stamp, :stamp
{source}
RETURNING id"""

RECEIPT_INSERT = """
INSERT INTO inbound_receipts (shop_id, channel_id, external_id, kind, customer_id, message_id,
                              reply_message_id, payload, created_at)
SELECT :shop_id, :channel_id, :external_id, :kind, {customer}, {message}, {reply}, :payload, :stamp
{source}"""

_COLUMNS = ("direction", "sender", "type", "text", "media", "raw", "external_id", "delivery", "expects_reply")

UPSERT_SHOPPER = SHOPPER_INSERT.format(openid=":external_id")
UPSERT_CONVERSATION = CONVERSATION_INSERT.format(
    shopper="(SELECT id FROM customers WHERE channel_id = :channel_id AND external_id = :external_id)",
    source="WHERE true")
ADD_MESSAGE = MESSAGE_INSERT.format(
    id="COALESCE(:id, {next_id})", conversation=":conversation_id", source="",
    **{column: f":{column}" for column in _COLUMNS})
TAKE_RECEIPT = RECEIPT_INSERT.format(customer=":customer_id", message=":message_id",
                                     reply=":reply_message_id", source="")

# A shopper who was sent a rating card at the end of a conversation: what they write now
# decides whether it answers the card, gets the card's hint, or opens a new conversation.
# That goes step by step (the pipeline reads an empty result as "take the steps").
NO_CARD_OF_AN_ENDED_CONVERSATION = """FROM shopper
WHERE shopper.rating_conversation_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM conversations card WHERE card.id = shopper.rating_conversation_id AND card.state = 'ended')"""

# PostgreSQL: the same writes as one statement, each reading the rows the one before returned.
# The shopper's row is locked first, as above, so two pushes of one shopper still take turns,
# and a taken receipt fails the statement with everything in it. The bot's answer is written
# only if the conversation is in one of the states `reply_states` names.
PUSH_MESSAGE = f"""
WITH shopper AS ({SHOPPER_INSERT.format(openid=":user_id")}
), conversation AS ({CONVERSATION_INSERT.format(shopper="shopper.id", source=NO_CARD_OF_AN_ENDED_CONVERSATION)}
), message AS ({MESSAGE_INSERT.format(
    id="nextval('messages_id_seq')", conversation="conversation.id", source="FROM conversation",
    direction="'in'", sender="'customer'", type=":type", text=":text", media=":media", raw=":raw",
    external_id=":external_id", delivery="NULL",
    expects_reply="NOT (conversation.state = ANY(CAST(:reply_states AS text[])))")}
), bot AS ({MESSAGE_INSERT.format(
    id="nextval('messages_id_seq')", conversation="conversation.id",
    source="FROM conversation WHERE conversation.state = ANY(CAST(:reply_states AS text[]))",
    direction="'out'", sender="'bot'", type=":reply_type", text=":reply_text",
    media=":reply_media", raw=":reply_raw", external_id="NULL", delivery=":reply_delivery",
    expects_reply="NULL")}
), receipt AS ({RECEIPT_INSERT.format(customer="shopper.id", message="message.id",
                                      reply="(SELECT id FROM bot)", source="FROM shopper, message")}
)
SELECT shopper.id, shopper.rating_conversation_id, shopper.nickname, message.id, (SELECT id FROM bot),
       {", ".join(f"conversation.{column}" for column in RETURNED)}
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

# An answer to a pending rating card: the conversation takes the score, if not rated yet and
# the card is still alive.
RATE = """
UPDATE conversations SET rating_score = :score, rating_comment = :comment, rated_at = :stamp,
                         last_customer_message_at = :stamp
WHERE id = :card AND rated_at IS NULL AND rating_invited_at >= :card_since
""" + CONVERSATION_RETURNING

# A message that does not answer the card of an ended conversation: the shopper is told how
# to answer it, once while the card lives, and the message stays in that conversation.
HINT = """
UPDATE conversations SET rating_hinted_at = :stamp
WHERE id = :card AND state = 'ended' AND rated_at IS NULL AND rating_hinted_at IS NULL
      AND rating_invited_at >= :card_since
""" + CONVERSATION_RETURNING


_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=64)
def for_driver(sql: str, pg: bool) -> str:
    """psycopg takes `%(name)s`; sqlite3 takes `:name` as written."""
    if not pg:
        return sql.replace("{next_id}", "NULL")
    return _PARAM.sub(r"%(\1)s", sql.replace("{next_id}", "nextval('messages_id_seq')"))
