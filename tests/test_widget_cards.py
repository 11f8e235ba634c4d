"""A shop card in the widget: the shopper's live feed and history carry its fields (kind, form, id,
title, description, price, image, url, page_path) for widget.js to draw; on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from bridge.infra import db
from bridge.models import Conversation, Customer
from tests.factories import login
from tests.test_card_delivery import send_card
from tests.test_card_forms import COUPON
from tests.test_delivery import run_jobs
from tests.widget_kit import sse, state, visitor, write


def test_the_widget_feed_and_history_carry_the_cards_fields(app, client, web):
    shopper = visitor(client)
    client.patch("/api/v1/me", headers=login(client), json={"status": "online"})
    write(client, shopper, "有优惠券吗")
    run_jobs(app)
    position = state(client, shopper)["position"]
    with db.new_session(app) as s:
        visitor_id = s.scalar(select(Customer.external_id).join(Conversation, Conversation.customer_id == Customer.id))
    card = {**COUPON, "form": "card", "url": "https://shop.example/coupon/c-20"}
    send_card(app, visitor_id, card)
    expected = {k: card[k] for k in ("kind", "form", "id", "title", "description", "price", "image", "url",
                                     "page_path")}
    [(_, kind, live)] = [e for e in sse(client, shopper, last_event_id=position) if e[1] != "ready"]
    assert kind == "message" and (live["type"], live["from"], live["text"]) == ("coupon", "agent", "满199减20")
    assert live["card"] == expected  # its fallback text stays out: the widget draws the card
    assert state(client, shopper)["messages"][-1]["card"] == expected
