"""One shopper across channels: the shop links a shopper's ids (its user id, the openids of its
channels, a unionid), the widget's signed user id joins them, and the agent sees one person —
one history, one set of notes and tags, one panel of orders — whichever channel they write
from; recent-contact routing follows the person; unlinking splits them again and loses nothing."""
from __future__ import annotations

import copy

from sqlalchemy import func, select

from bridge.customers.models import Person, PersonIdentity
from bridge.infra import db
from tests.factories import BASE_SHOP, load_shop, login, post_acme, shop_doc, text_xml
from tests.shop_data_kit import api_key, load, order
from tests.test_delivery import run_jobs
from tests.widget_kit import WIDGETS, user, write

LINK = {"user_id": "u1001", "openids": {"acme-oa": "o-buyer"}}


def _conversation_of(client, headers, external_id: str) -> dict:
    run_jobs(client.application)
    rows = client.get("/api/v1/conversations", headers=headers).get_json()["items"]
    return next(r for r in rows if r["customer"]["external_id"] == external_id and r["state"] != "ended")


def test_a_linked_shopper_is_one_person_in_the_panel(app, client, web):
    key = api_key(app)
    load(client, key, [order("N-oa"), order("N-web", openid=None, user_id="u1001", days=0.5)])
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    assert client.put("/api/v1/shop-data/links", headers=key, json={"items": [LINK]}).get_json() == {"linked": 1}
    post_acme(client, text_xml("o-buyer", "公众号上问一下"))
    oa = _conversation_of(client, alice, "o-buyer")
    client.post(f"/api/v1/customers/{oa['customer']['id']}/notes", headers=alice, json={"text": "老顾客，爱砍价"})
    tag = client.post("/api/v1/tags", headers=alice, json={"name": "VIP"}).get_json()
    client.put(f"/api/v1/customers/{oa['customer']['id']}/tags/{tag['id']}", headers=alice)
    write(client, user(client, "u1001"), "网页上再问")
    web_chat = _conversation_of(client, alice, "u_u1001")
    shopper = client.get(f"/api/v1/customers/{web_chat['customer']['id']}", headers=alice).get_json()
    assert [(r["external_id"], r["channel"]["kind"]) for r in shopper["linked"]] == [("o-buyer", "wechat_oa")]
    assert [t["name"] for t in shopper["tags"]] == ["VIP"]
    base = f"/api/v1/customers/{web_chat['customer']['id']}"
    assert [n["text"] for n in client.get(f"{base}/notes", headers=alice).get_json()["items"]] == ["老顾客，爱砍价"]
    history = client.get(f"{base}/conversations", headers=alice).get_json()["items"]
    assert {h["channel"]["kind"] for h in history} == {"wechat_oa", "widget"}
    orders = client.get(f"/api/v1/conversations/{web_chat['id']}/orders", headers=alice).get_json()["items"]
    assert [o["number"] for o in orders] == ["N-web", "N-oa"]  # both channels' orders, newest first
    # An order card of the person's, sent on the web where it was not bought.
    assert client.post(f"/api/v1/conversations/{web_chat['id']}/messages", headers=alice,
                       json={"type": "order", "order_number": "N-oa"}).status_code == 201

    # Unlinked: each channel's shopper stands alone again, and keeps what was theirs.
    assert client.post("/api/v1/shop-data/links/unlink", headers=key,
                       json={"items": [{"openids": {"acme-oa": "o-buyer"}}]}).get_json() == {"unlinked": 1}
    shopper = client.get(base, headers=alice).get_json()
    assert shopper["linked"] == [] and shopper["tags"] == []
    assert client.get(f"{base}/notes", headers=alice).get_json()["items"] == []
    oa_notes = client.get(f"/api/v1/customers/{oa['customer']['id']}/notes", headers=alice).get_json()["items"]
    assert [n["text"] for n in oa_notes] == ["老顾客，爱砍价"]


def test_recent_contact_follows_the_person_not_the_channel(app, client):
    load_shop(app, shop_doc(settings={"routing": "least_load", "recent_contact_hours": 72},
                            channels=copy.deepcopy(BASE_SHOP["channels"] + WIDGETS)))
    key = api_key(app)
    client.put("/api/v1/shop-data/links", headers=key, json={"items": [LINK]})
    bob, alice = login(client, "bob"), login(client)
    client.patch("/api/v1/me", headers=bob, json={"status": "online"})
    post_acme(client, text_xml("o-buyer", "在吗"))
    served = _conversation_of(client, bob, "o-buyer")
    assert served["agent"]["username"] == "bob"
    client.post(f"/api/v1/conversations/{served['id']}/end", headers=bob)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    write(client, user(client, "u1001"), "网页上接着问")
    assert _conversation_of(client, alice, "u_u1001")["agent"]["username"] == "bob"  # least_load says alice
    write(client, user(client, "u2002"), "我是新顾客")
    assert _conversation_of(client, alice, "u_u2002")["agent"]["username"] == "alice"


def test_links_merge_people_and_refuse_to_join_two_shoppers_the_shop_told_apart(app, client, web):
    key = api_key(app)
    put = lambda items: client.put("/api/v1/shop-data/links", headers=key, json={"items": items})  # noqa: E731
    assert put([{"user_id": "A", "openids": {"acme-oa": "o-1"}}]).status_code == 200
    assert put([{"unionid": "UN-1", "openids": {"acme-safe": "o-2"}}]).status_code == 200
    assert put([{"openids": {"acme-oa": "o-1", "acme-safe": "o-2"}}]).status_code == 200  # one person now
    with db.new_session(app) as session:
        [person] = session.scalars(select(Person)).all()
        assert (person.user_id, person.unionid) == ("A", "UN-1")
        assert session.scalar(select(func.count()).select_from(PersonIdentity)) == 2
    refused = put([{"user_id": "A"}, {"user_id": "B", "openids": {"acme-oa": "o-1"}}])
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert (error["row"], error["field"]) == (1, "user_id")
    for bad, field in (({}, None), ({"openids": {"nope": "x"}}, "openids.nope"), ({"user_id": 7}, "user_id")):
        resp = put([bad])
        assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field, resp.get_json()
    with db.new_session(app) as session:
        assert [(p.user_id, p.unionid) for p in session.scalars(select(Person))] == [("A", "UN-1")]


def test_a_block_follows_the_person_across_channels(app, client, web):
    key = api_key(app)
    client.put("/api/v1/shop-data/links", headers=key, json={"items": [LINK]})
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    post_acme(client, text_xml("o-buyer", "加微信领红包"))
    oa = _conversation_of(client, alice, "o-buyer")
    assert client.put(f"/api/v1/customers/{oa['customer']['id']}/block", headers=alice,
                      json={"reason": "广告"}).status_code == 200
    write(client, user(client, "u1001"), "发货")  # the same person, on the web
    run_jobs(app)
    rows = client.get("/api/v1/conversations", headers=alice).get_json()["items"]
    web_row = next(r for r in rows if r["customer"]["external_id"] == "u_u1001")
    assert web_row["state"] == "bot"  # kept, not routed
    said = client.get(f"/api/v1/conversations/{web_row['id']}/messages", headers=alice).get_json()["items"]
    assert [m["sender"] for m in said] == ["customer"]  # and not answered by the keyword rule
    assert client.get(f"/api/v1/customers/{web_row['customer']['id']}", headers=alice).get_json()["blocked"]
    client.delete(f"/api/v1/customers/{oa['customer']['id']}/block", headers=alice)
    assert client.get("/api/v1/blocks", headers=alice).get_json()["items"] == []

