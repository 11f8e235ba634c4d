"""tests/test_bad_input.py's cases for shop data (the shop-data API, called with a shop's key, and
the agents' reads and cards), blocks and outreach; and the real rows they name."""
from __future__ import annotations

from bridge.shopdata.keys import create
from tests.bad_input_kit import DEEP, HUGE_NUMBER, TOKENS, Case, id_cases, json_cases

CONVERSATION, CUSTOMER = ["conversation_id"], ["customer_id"]
AGENT_TOKEN = "<the agent's token>"  # a case sent with an agent's good token, where a shop's key is wanted
PRODUCT = '{"items": [{"id": "p-1", "title": "连衣裙", "price": "199.00"}]}'
LINK = '{"items": [{"user_id": "u-1", "openids": {"acme-oa": "o-1"}}]}'


def shop_json_cases(valid: str) -> list[Case]:
    """What a shop-data body can get wrong: as any JSON body's, but its cap is 8 MB (a batch of
    1,000 rows), and what the batch holds is 422."""
    over = '{"items": [], "x": "' + "a" * (8 * 1024 * 1024 + 10) + '"}'
    return [*[c for c in json_cases(valid) if c.status != 413], Case("body over 8 MB", 413, over),
            Case("items not a list", 422, '{"items": {"id": "p-1"}}'), Case("no items", 422, '{"items": []}'),
            Case("an unknown key beside items", 422, valid[:-1] + ', "more": 1}'),
            Case("a row of the wrong type", 422, '{"items": ["p-1"]}'),
            Case("a row with a NUL", 400, valid.replace('"}', '\\u0000"}', 1)),
            Case("1,001 rows", 422, '{"items": [' + ",".join(["{}"] * 1001) + "]}"),
            Case("nested 20,000 deep in a row", 400, '{"items": [' + DEEP + "]}"),
            Case("a 5,000-digit price", 400, f'{{"items": [{{"id": "p", "title": "t", "price": {HUGE_NUMBER}}}]}}')]


def _product(key: str, values: tuple[str, ...]) -> list[Case]:
    return [Case(f"{key} as {v[:12]}", 422, '{"items": [{"id": "p-1", "title": "t", "price": 1, "' + key + '": '
                 + v + "}]}") for v in values]


SHOP_DATA_CASES: dict[tuple[str, str], list[Case]] = {
    ("/api/v1/shop-data/<kind>", "PUT"): [
        *TOKENS, *shop_json_cases(PRODUCT), Case("an agent's token", 401, PRODUCT, token=AGENT_TOKEN),
        *_product("price", ('"12.345"', "-1", '"free"', "true", "1e400", '"1e20"', "[1]")),
        *_product("url", ('"javascript:alert(1)"', '"ftp://x"', "7")),
        *_product("on_sale", ('"yes"', "1")), *_product("colour", ('"red"',)),
        Case("an id with a slash", 422, '{"items": [{"id": "a/b", "title": "t", "price": 1}]}'),
        Case("an id of 65", 422, '{"items": [{"id": "' + "p" * 65 + '", "title": "t", "price": 1}]}'),
    ],
    ("/api/v1/shop-data/<kind>/<id_>", "DELETE"): [
        *TOKENS, Case("an id the shop never sent", 404, path={"id_": lambda _: "p-nope"}),
        Case("an id of 65", 404, path={"id_": lambda _: "p" * 65}),
        Case("another kind", 404, path={"kind": lambda _: "widgets"}),
    ],
    ("/api/v1/shop-data/views", "POST"): [
        *TOKENS, *shop_json_cases('{"items": [{"product_id": "p-1", "buyer": {"user_id": "u-1"}}]}'),
        Case("a buyer of the wrong type", 422, '{"items": [{"product_id": "p-1", "buyer": "u-1"}]}'),
        Case("a time without offset", 422,
             '{"items": [{"product_id": "p-1", "buyer": {}, "viewed_at": "2026-12-01 10:00"}]}'),
    ],
    ("/api/v1/shop-data/links", "PUT"): [
        *TOKENS, *shop_json_cases(LINK),
        Case("names nobody", 422, '{"items": [{}]}'),
        Case("another shop's channel", 422, '{"items": [{"openids": {"other-oa": "o-1"}}]}'),
    ],
    ("/api/v1/shop-data/links/unlink", "POST"): [*TOKENS, *shop_json_cases(LINK)],
    ("/api/v1/shop-data/consents", "POST"): [
        *TOKENS, *shop_json_cases('{"items": [{"openids": {"acme-oa": "o-1"}, "template_id": "T"}]}'),
        Case("count of 0", 422, '{"items": [{"openids": {"acme-oa": "o-1"}, "template_id": "T", "count": 0}]}'),
    ],
    ("/api/v1/conversations/<conversation_id>/orders", "GET"): [
        *TOKENS, *id_cases(*CONVERSATION), Case("limit of 0", 400, query={"limit": "0"}),
        Case("limit in other digits", 400, query={"limit": "５"})],
    ("/api/v1/conversations/<conversation_id>/shop-panel", "GET"): [*TOKENS, *id_cases(*CONVERSATION)],
    ("/api/v1/conversations/<conversation_id>/viewed", "GET"): [
        *TOKENS, *id_cases(*CONVERSATION), Case("limit of 51", 400, query={"limit": "51"})],
    ("/api/v1/products", "GET"): [*TOKENS, Case("q of 65", 422, query={"q": "q" * 65}),
                                  Case("limit of 10,000", 400, query={"limit": "10000"})],
    ("/api/v1/products/hot", "GET"): TOKENS,
    ("/api/v1/coupons", "GET"): TOKENS,
    ("/api/v1/customers/<customer_id>/block", "PUT"): [
        *TOKENS, *id_cases(*CUSTOMER), *json_cases('{"reason": "spam"}'),
        *[Case(f"reason as {v[:12]}", 422, f'{{"reason": {v}}}') for v in ("1", "null", '""', '"' + "x" * 201 + '"')],
        Case("an unknown field", 422, '{"reason": "spam", "until": 1}'),
    ],
    ("/api/v1/customers/<customer_id>/block", "DELETE"): [*TOKENS, *id_cases(*CUSTOMER)],
    ("/api/v1/blocks", "GET"): TOKENS,
    ("/api/v1/outreach", "GET"): TOKENS,
    ("/api/v1/outreach", "POST"): [
        *TOKENS, *json_cases('{"customer_id": 1, "text": "hi"}'),
        Case("no text", 422, '{"customer_id": 1}'),
        Case("an unknown field", 422, '{"customer_id": 1, "text": "x", "cc": 1}'),
        *[Case(f"customer_id as {v[:12]}", 404, f'{{"customer_id": {v}, "text": "hi"}}')
          for v in ('"1"', "1.5", "true", "99999999999999999999", "null")],
    ],
    ("/api/v1/outreach/candidates", "GET"): [*TOKENS, Case("no q", 422), Case("q of 65", 422, query={"q": "q" * 65})],
}


def shop_data_world(app) -> dict[str, str]:
    """The shop's key (the shop-data routes' good token) and the names their paths take."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from bridge.infra import db
    from bridge.models import Shop

    with db.new_session(app) as session:
        key = create(session, session.scalar(select(Shop).where(Shop.key == "acme")), "bad input",
                     datetime.now(timezone.utc))
        session.commit()
    return {"shop_key": f"Bearer {key}", "kind": "products", "id_": "p-1"}
