"""The typing indicator (正在输入): the agent's keystrokes show it to the shopper through the
channel's typing API — the Mini Program's and the Official Account's own paths, each app's own
token — only within 30 s of the shopper's message, once while shown, again after a reply; a
refusal from WeChat is logged and never holds up the reply. On SQLite and PostgreSQL."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from adapters.wechat.mp_push import text_push
from bridge.infra import db
from bridge.models import Customer
from tests.factories import login, post_acme, text_xml
from tests.test_delivery import run_jobs
from tests.test_mp_webhook import MP_APP, mp, push  # noqa: F401  (mp: the shop with Mini Programs)

MP_TYPING = "/cgi-bin/message/custom/business/typing"
OA_TYPING = "/cgi-bin/message/custom/typing"


def typings(fake, path: str) -> list[dict]:
    return [{"body": c.json, "app": fake.token_owner(c.query.get("access_token"))[0]}
            for c in fake.calls if c.path == path]


def serve(client, write) -> tuple[dict, int]:
    """A shopper writes (WRITE) and alice, coming online, serves them: (her headers, the id)."""
    write()
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    return alice, row["id"]


def test_typing_is_shown_once_while_shown_and_again_after_a_reply(app, client, mp, fake_wechat):  # noqa: F811
    alice, cid = serve(client, lambda: push(client, text_push("o-typer", "在吗")))
    url = f"/api/v1/conversations/{cid}/typing"
    assert client.post(url, headers=alice).get_json() == {"typing": "shown"}
    assert client.post(url, headers=alice).get_json() == {"typing": "showing"}  # not re-sent while shown
    run_jobs(app)
    assert typings(fake_wechat, MP_TYPING) == [{"body": {"touser": "o-typer", "command": "Typing"}, "app": MP_APP}]
    client.post(f"/api/v1/conversations/{cid}/messages", headers=alice, json={"type": "text", "text": "在的"})
    assert client.post(url, headers=alice).get_json() == {"typing": "shown"}  # the reply ended it
    run_jobs(app)
    assert len(typings(fake_wechat, MP_TYPING)) == 2 and typings(fake_wechat, OA_TYPING) == []


def test_the_official_account_uses_its_own_path(app, client, shop, fake_wechat):
    alice, cid = serve(client, lambda: post_acme(client, text_xml("o-oa-typer", "你好")))
    assert client.post(f"/api/v1/conversations/{cid}/typing", headers=alice).get_json() == {"typing": "shown"}
    run_jobs(app)
    [call] = typings(fake_wechat, OA_TYPING)
    assert call["body"] == {"touser": "o-oa-typer", "command": "Typing"} and call["app"] == "wx00000000000000a1"


def test_not_shown_when_the_shoppers_message_is_over_30_seconds_old(app, client, mp, fake_wechat):  # noqa: F811
    alice, cid = serve(client, lambda: push(client, text_push("o-late", "在吗")))
    with db.new_session(app) as s:
        s.execute(update(Customer).where(Customer.external_id == "o-late")
                  .values(last_inbound_at=datetime.now(timezone.utc) - timedelta(seconds=31)))
        s.commit()
    assert client.post(f"/api/v1/conversations/{cid}/typing", headers=alice).get_json() == {"typing": "too_late"}
    run_jobs(app)
    assert typings(fake_wechat, MP_TYPING) == []


def test_a_refusal_is_logged_and_the_reply_still_goes(app, client, mp, fake_wechat, caplog):  # noqa: F811
    alice, cid = serve(client, lambda: push(client, text_push("o-refused", "在吗")))
    fake_wechat.fail_next(MP_TYPING, 45080)
    client.post(f"/api/v1/conversations/{cid}/typing", headers=alice)
    with caplog.at_level(logging.WARNING, logger="jobs.typing"):
        run_jobs(app)
    assert any("typing indicator refused" in r.getMessage() and "45080" in r.getMessage() for r in caplog.records)
    client.post(f"/api/v1/conversations/{cid}/messages", headers=alice, json={"type": "text", "text": "来了"})
    run_jobs(app)
    assert [m["text"]["content"] for m in fake_wechat.sent("o-refused")][-1] == "来了"


def test_a_reply_sent_before_the_typing_job_ran_leaves_nothing_to_show(app, client, mp, fake_wechat):  # noqa: F811
    """The agent typed and sent before a worker took the typing job: WeChat is asked only for
    the reply — 正在输入 asked for after it would show under the reply that has arrived."""
    alice, cid = serve(client, lambda: push(client, text_push("o-quick", "在吗")))
    run_jobs(app)  # the welcome
    assert client.post(f"/api/v1/conversations/{cid}/typing", headers=alice).get_json() == {"typing": "shown"}
    client.post(f"/api/v1/conversations/{cid}/messages", headers=alice, json={"type": "text", "text": "在的"})
    run_jobs(app)
    assert typings(fake_wechat, MP_TYPING) == []
    assert [m["text"]["content"] for m in fake_wechat.sent("o-quick")][-1] == "在的"


@pytest.mark.parametrize("who", ["bob", "nobody's"])
def test_only_the_serving_agent_types(app, client, mp, who):  # noqa: F811
    alice, cid = serve(client, lambda: push(client, text_push("o-mine", "在吗")))
    if who == "nobody's":
        client.post(f"/api/v1/conversations/{cid}/end", headers=alice)
        headers = alice
    else:
        headers = login(client, "bob")
    resp = client.post(f"/api/v1/conversations/{cid}/typing", headers=headers)
    assert resp.status_code in (403, 409) and "error" in resp.get_json()
