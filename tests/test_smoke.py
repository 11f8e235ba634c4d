from tests.factories import login, post_acme, text_xml


def test_unanswered_message_is_stored_and_acknowledged(client, shop):
    resp = post_acme(client, text_xml("o-smoke", "你好"))
    assert resp.status_code == 200 and resp.data == b"success"
    headers = login(client)
    items = client.get("/api/v1/conversations", headers=headers).get_json()["items"]
    assert [c["customer"]["external_id"] for c in items] == ["o-smoke"]
