from tests.factories import login, post_acme, text_xml


def test_unanswered_message_is_stored_and_acknowledged(client, shop):
    resp = post_acme(client, text_xml("o-smoke", "你好"))
    assert resp.status_code == 200 and resp.data == b"success"
    headers = login(client)
    items = client.get("/api/v1/conversations", headers=headers).get_json()["items"]
    assert [c["customer"]["external_id"] for c in items] == ["o-smoke"]


def test_request_lines_are_logged_without_query_strings():
    import logging

    from bridge.logs import NoQueryStrings

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("POST /hooks/wechat-oa/k?signature=abc&timestamp=1&nonce=2 HTTP/1.1", "200", "-"),
                               None)
    assert NoQueryStrings().filter(record)
    assert record.getMessage() == '"POST /hooks/wechat-oa/k HTTP/1.1" 200 -'


def test_gunicorn_access_lines_leave_out_query_strings():
    from pathlib import Path

    settings: dict = {}
    exec((Path(__file__).resolve().parent.parent / "gunicorn.conf.py").read_text(), settings)
    assert "%(U)s" in settings["access_log_format"] and "%(r)s" not in settings["access_log_format"]
    assert "%(q)s" not in settings["access_log_format"]
