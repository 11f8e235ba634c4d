"""The demo's Mini Program (demo-mp, a sandbox channel): its shopper page taps 客服 from a page
and writes; nothing comes back as a passive reply (a Mini Program has none), and the keyword
answer, the welcome, the agent's reply and a link card all reach the phone through the
stand-in's customer-service API, never the real WeChat."""
from __future__ import annotations

from tests.factories import login
from tests.test_delivery import run_jobs
from tests.test_demo import DEMO_SHOP, demo  # noqa: F401  (demo: the app in demo mode, served)

PAGE, FEED, PUSH = "/demo/shopper/demo-mp", "/demo/shopper/demo-mp/feed", "/demo/shopper/demo-mp/push"


def feed(client, openid: str = "mini-shopper") -> list[dict]:
    return client.get(FEED, query_string={"openid": openid}).get_json()["items"]


def write(client, openid: str = "mini-shopper", **form):
    return client.post(PUSH, query_string={"openid": openid}, data=form)


def test_a_mini_program_shopper_in_the_demo(demo, fake_wechat):  # noqa: F811
    client = demo.test_client()
    page = client.get(PAGE).get_data(as_text=True)
    assert "小程序" in page and "从页面进入客服" in page and "扫码关注" not in page
    assert write(client, kind="enter", key="vip").get_json() == {"status": 200}
    assert write(client, kind="text", text="什么时候发货").get_json() == {"status": 200}
    run_jobs(demo)
    entries = feed(client)
    assert [e["from"] for e in entries][:2] == ["shopper", "shopper"]
    assert all(e["via"] != "passive" for e in entries)
    shop = [e["msg"] for e in entries if e["from"] == "shop"]
    assert shop[0] == {"msgtype": "text", "text": {"content": "亲，付款后 48 小时内发货，节假日顺延。"}}

    write(client, kind="text", text="我想问问尺码")
    run_jobs(demo)
    headers = login(client, shop="demo", password="alice-demo-pass")
    client.patch("/api/v1/me", json={"status": "online"}, headers=headers)
    run_jobs(demo)
    [row] = client.get("/api/v1/conversations?state=active", headers=headers).get_json()["items"]
    assert row["channel"]["kind"] == "wechat_mp" and row["group"] == "vip"  # the session-from routed it
    url = f"/api/v1/conversations/{row['id']}/messages"
    client.post(url, headers=headers, json={"type": "text", "text": "亲，M码合适"})
    client.post(url, headers=headers, json={"type": "link", "title": "尺码表", "url": "https://shop.example/size",
                                            "thumb_url": "https://shop.example/size.png"})
    run_jobs(demo)
    shop = [e["msg"] for e in feed(client) if e["from"] == "shop"]
    assert shop[-3:] == [
        {"msgtype": "text", "text": {"content": "您好，我是Alice，请问有什么可以帮您？"}},
        {"msgtype": "text", "text": {"content": "亲，M码合适"}},
        {"msgtype": "link", "link": {"title": "尺码表", "description": "", "url": "https://shop.example/size",
                                     "thumb_url": "https://shop.example/size.png"}}]
    assert fake_wechat.calls == []  # the sandbox never reached WECHAT_API_BASE


def test_a_mini_program_shopper_cannot_scan_or_follow(demo):  # noqa: F811
    client = demo.test_client()
    for kind in ("scan", "follow", "click"):
        resp = write(client, kind=kind, key="vip")
        assert resp.status_code == 400 and "小程序" in resp.get_json()["error"]["message"]
    assert feed(client) == []
    assert DEMO_SHOP["shops"][0]["channels"][1]["kind"] == "wechat_mp"
