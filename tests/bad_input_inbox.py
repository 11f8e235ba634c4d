"""tests/test_bad_input.py's cases for the shopper panel's routes (bridge/web/api/customers.py),
the 历史 search, the agent's own quick phrases and the typing indicator, and the real rows they name: alice's
shopper, a note, a tag, a phrase."""
from __future__ import annotations

from tests.bad_input_kit import TOKENS, Case, id_cases, json_cases

CUSTOMER = ["customer_id"]


def _fields(key: str, values: tuple[str, ...], status: int = 422) -> list[Case]:
    return [Case(f"{key} as {v[:12]}", status, f'{{"{key}": {v}}}') for v in values]


INBOX_CASES: dict[tuple[str, str], list[Case]] = {
    ("/api/v1/customers/<customer_id>", "GET"): [*TOKENS, *id_cases(*CUSTOMER)],
    ("/api/v1/customers/<customer_id>/conversations", "GET"): [*TOKENS, *id_cases(*CUSTOMER)],
    ("/api/v1/customers/<customer_id>/notes", "GET"): [*TOKENS, *id_cases(*CUSTOMER)],
    ("/api/v1/customers/<customer_id>/notes", "POST"): [
        *TOKENS, *id_cases(*CUSTOMER), *json_cases('{"text": "好"}'),
        *_fields("text", ("123", '["好"]', "{}", "null", "true", '""', '"   "', '"' + "长" * 1001 + '"')),
        Case("an unknown field", 422, '{"text": "好", "pinned": true}'),
    ],
    ("/api/v1/customers/<customer_id>/notes/<note_id>", "DELETE"): [*TOKENS, *id_cases("customer_id", "note_id")],
    ("/api/v1/tags", "GET"): TOKENS,
    ("/api/v1/tags", "POST"): [
        *TOKENS, *json_cases('{"name": "VIP"}'),
        *_fields("name", ("123", '["VIP"]', "{}", "null", '""', '"' + "标" * 21 + '"')),
        Case("an unknown field", 422, '{"name": "VIP", "color": "red"}'),
    ],
    **{("/api/v1/customers/<customer_id>/tags/<tag_id>", method): [*TOKENS, *id_cases("customer_id", "tag_id")]
       for method in ("PUT", "DELETE")},
    ("/api/v1/customers/<customer_id>/exclusive-agent", "PUT"): [
        *TOKENS, *id_cases(*CUSTOMER), *json_cases('{"agent": "bob"}'),
        *_fields("agent", ("123", '["bob"]', "{}", "true", '""', '"' + "b" * 65 + '"', '"nobody"')),
        Case("no agent field", 422, "{}"), Case("an unknown field", 422, '{"agent": "bob", "until": 1}'),
    ],
    ("/api/v1/quick-phrases", "POST"): [
        *TOKENS, *json_cases('{"title": "t", "text": "x"}'),
        *[Case(f"{key} as {v[:12]}", 422, f'{{"title": "t", "text": "x", "{key}": {v}}}')
          for key in ("title", "text") for v in ("1", '["x"]', "null", '""', '"' + "长" * 1001 + '"')],
        Case("a title of 31", 422, '{"title": "' + "长" * 31 + '", "text": "x"}'),
        Case("an unknown field", 422, '{"title": "t", "text": "x", "scope": "shop"}'),
    ],
    ("/api/v1/quick-phrases/<phrase_id>", "PATCH"): [
        *TOKENS, *id_cases("phrase_id"), *json_cases('{"text": "x"}'),
        *_fields("text", ("1", '["x"]', "null", '""', '"' + "长" * 1001 + '"')), Case("no field", 422, "{}"),
    ],
    ("/api/v1/quick-phrases/<phrase_id>", "DELETE"): [*TOKENS, *id_cases("phrase_id")],
    ("/api/v1/conversations/<conversation_id>/typing", "POST"): [*TOKENS, *id_cases("conversation_id")],
}
INBOX_SEARCH = [Case("q of 101 letters", 400, query={"q": "q" * 101}),
                   Case("q with NUL", 400, query={"q": "a\x00b"})]


def inbox_world(client, headers: dict[str, str], conversation: dict) -> dict[str, str]:
    customer = conversation["customer"]["id"]
    note = client.post(f"/api/v1/customers/{customer}/notes", headers=headers, json={"text": "n"}).get_json()
    tag = client.post("/api/v1/tags", headers=headers, json={"name": "VIP"}).get_json()
    phrase = client.post("/api/v1/quick-phrases", headers=headers, json={"title": "t", "text": "x"}).get_json()
    return {"customer_id": str(customer), "note_id": str(note["id"]), "tag_id": str(tag["id"]),
            "phrase_id": str(phrase["id"])}
