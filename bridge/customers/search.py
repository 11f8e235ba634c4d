"""The 历史 tab's search: which conversations a text finds.

A conversation matches when the text is found, ignoring case, in its shopper's nickname,
openid (or visitor id) or entry scene, in any of its messages, or in a tag or a note on its
shopper. The text is matched as it is: `%` and `_` are characters here, not wildcards.
An order number is found wherever it was written (a message, a note); once shop data exists,
orders will be searched as such (issue 14).
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_

from bridge.customers.models import CustomerNote, CustomerTag, Tag
from bridge.models import Conversation, Customer, Message

MAX_QUERY = 100


def pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conversations_matching(text: str) -> ColumnElement[bool]:
    """A WHERE clause on Conversation (the caller scopes it to the shop and to what the viewer sees)."""
    like = pattern(text)

    def found(column) -> ColumnElement[bool]:
        return column.ilike(like, escape="\\")

    shopper = exists().where(Customer.id == Conversation.customer_id,
                             or_(found(Customer.nickname), found(Customer.external_id), found(Customer.entry_scene)))
    message = exists().where(Message.conversation_id == Conversation.id, found(Message.text))
    tag = exists().where(CustomerTag.customer_id == Conversation.customer_id,
                         CustomerTag.shop_id == Conversation.shop_id, Tag.id == CustomerTag.tag_id, found(Tag.name))
    note = exists().where(CustomerNote.customer_id == Conversation.customer_id,
                          CustomerNote.shop_id == Conversation.shop_id, found(CustomerNote.text))
    return or_(shopper, message, tag, note)
