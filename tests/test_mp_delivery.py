"""What reaches a Mini Program shopper, and how, end to end on SQLite and PostgreSQL: the shop's
notices (leave-a-message, welcome, queue place, rating card, thanks) through the
customer-service API, since a Mini Program has no passive reply — with the webhook itself
calling nothing; agents' images uploaded and reused under the Mini Program's own app; WeChat's
final refusals shown; and the Official Account and the Mini Program of one shop each sending
with its own access token, a refresh of one never touching the other's.
"""
from __future__ import annotations

import copy
import io

import pytest

from adapters.wechat.mp_push import enter_push, text_push
from tests.factories import BASE_SHOP
from tests.test_delivery_images import PNG, UPLOAD
from tests.test_mp_webhook import CHANNELS, MP_APP, MP_SECRET, push
from tests.test_sessions import (
    OFF_HOURS,
    Desk,
    _not_today_in_shanghai,
    agent,
    agent_of,
    queue_notice,
    rating_card,
    thanks,
    welcome,
)

SEND = "/cgi-bin/message/custom/send"
OA_APP = BASE_SHOP["channels"][0]["app_id"]


class MPDesk(Desk):
    """test_sessions' desk, its shoppers writing from the shop's Mini Program (acme-mp)."""

    def load(self, settings=None, agents=None, **overrides) -> MPDesk:
        self.fake.register_app(MP_APP, MP_SECRET)
        overrides.setdefault("channels", copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(CHANNELS))
        return super().load(settings, agents, **overrides)

    def write(self, openid: str, text: str):
        resp = push(self.client, text_push(openid, text))
        assert resp.status_code == 200 and resp.data == b"success", resp.data
        return resp

    def write_oa(self, openid: str, text: str):
        """A shopper of the same shop's Official Account (acme-oa) writes."""
        return Desk.write(self, openid, text)

    def tokens_of(self, openid: str) -> set[str | None]:
        """The apps whose tokens carried what was sent to the shopper."""
        return {self.fake.token_owner(c.query.get("access_token"))[0] for c in self.fake.calls
                if c.path == SEND and (c.json or {}).get("touser") == openid}


@pytest.fixture
def desk(app, client, fake_wechat) -> MPDesk:
    return MPDesk(app, client, fake_wechat)


def test_every_notice_reaches_the_shopper_through_the_api_and_the_webhook_calls_nothing(desk):
    hours = [{"days": [_not_today_in_shanghai()], "start": "00:00", "end": "23:59"}]  # closed today
    desk.load(settings={"working_hours": hours}, agents=[agent("alice", "admin"), agent("bob")])
    desk.write("o-mp-n", "我想问一下尺码")
    assert desk.fake.calls == []  # answered `success` without waiting for WeChat
    desk.jobs()
    assert desk.told("o-mp-n") == [OFF_HOURS]

    cid = desk.served("bob", "o-mp-n", "还在吗")
    assert desk.told("o-mp-n") == [OFF_HOURS, welcome("Bob")]
    desk.reply("bob", cid, "在的")
    desk.post("bob", cid, "end")
    desk.jobs()
    assert desk.told("o-mp-n")[-2:] == ["在的", rating_card("Bob")]
    desk.write("o-mp-n", "5")
    desk.jobs()
    assert desk.told("o-mp-n")[-1] == thanks("Bob")
    assert desk.get(cid)["rating"]["score"] == 5
    assert desk.tokens_of("o-mp-n") == {MP_APP}


def test_a_full_desk_tells_the_mini_program_shopper_the_queue_place(desk):
    desk.load(agents=[agent("alice", "admin", max_concurrent=1)])
    desk.served("alice", "o-mp-first", "你好")
    desk.write("o-mp-second", "有人吗")
    desk.jobs()
    assert desk.conv("o-mp-second")["state"] == "queued"
    assert desk.told("o-mp-second") == [queue_notice(1)]
    assert desk.tokens_of("o-mp-second") == {MP_APP}


def post_image(desk: MPDesk, cid: int, name: str = "size-chart.png") -> dict:
    resp = desk.client.post(f"/api/v1/conversations/{cid}/messages", headers=desk.h("alice"),
                            data={"image": (io.BytesIO(PNG), name, "image/png")}, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_an_image_is_uploaded_once_per_app_and_its_media_id_reused(desk):
    """The same picture to a Mini Program shopper twice: one upload under the Mini Program's
    token, both sends naming its media id; to the OA's shopper: the OA's own upload."""
    desk.load(agents=[agent("alice", "admin")])
    cid = desk.served("alice", "o-mp-img", "有尺码表吗")
    post_image(desk, cid)
    post_image(desk, cid, "again.png")
    desk.jobs()
    [upload] = [c for c in desk.fake.calls if c.path == UPLOAD]
    assert upload.query["type"] == "image" and upload.files == {"media": PNG}
    assert desk.fake.token_owner(upload.query["access_token"])[0] == MP_APP
    images = [m for m in desk.fake.sent("o-mp-img") if m["msgtype"] == "image"]
    assert len(images) == 2 and images[0]["image"] == images[1]["image"]
    assert desk.tokens_of("o-mp-img") == {MP_APP}

    desk.write_oa("o-oa-img", "有尺码表吗")
    desk.jobs()
    post_image(desk, desk.conv("o-oa-img")["id"])
    desk.jobs()
    oa_upload = [c for c in desk.fake.calls if c.path == UPLOAD][1:]
    assert [desk.fake.token_owner(c.query["access_token"])[0] for c in oa_upload] == [OA_APP]
    [oa_image] = [m for m in desk.fake.sent("o-oa-img") if m["msgtype"] == "image"]
    assert oa_image["image"] != images[0]["image"]  # a media id is its app's own


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_wechats_window_and_cap_refusals_are_final_and_shown(desk, errcode):
    desk.load(agents=[agent("alice", "admin")])
    cid = desk.served("alice", "o-mp-refused", "你好")
    desk.fake.fail_next(SEND, errcode)
    sent = desk.reply("alice", cid, "在的")
    desk.jobs()
    [reply] = [m for m in desk.messages(cid) if m["id"] == sent["id"]]
    assert reply["delivery"]["state"] == "failed" and reply["delivery"]["error"]["code"] == str(errcode)
    assert reply["delivery"]["attempts"] == 1  # final: not retried
    window = desk.get(cid)["send_window"]
    if errcode == 45015:  # the window WeChat says is closed is closed for the composer too
        assert window["open"] is False
    else:  # and a spent count is spent
        assert window["sends_left"] == 0


def test_the_oa_and_the_mini_program_of_one_shop_never_share_a_token(desk):
    desk.load(agents=[agent("alice", "admin")])
    mp_cid = desk.served("alice", "o-mp-tok", "你好")
    desk.write_oa("o-oa-tok", "你好")
    desk.jobs()
    oa_cid = desk.conv("o-oa-tok")["id"]
    desk.reply("alice", mp_cid, "小程序这边在的")
    desk.reply("alice", oa_cid, "公众号这边在的")
    desk.jobs()
    assert desk.tokens_of("o-mp-tok") == {MP_APP} and desk.tokens_of("o-oa-tok") == {OA_APP}
    redis = desk.app.extensions["redis"]
    stored = {key.decode(): redis.get(key) for key in redis.scan_iter("*:access_token")}
    assert sorted(k.split(":")[-2] for k in stored) == sorted([MP_APP, OA_APP])

    desk.fake.fail_next(SEND, 40001)  # WeChat rejects the Mini Program's token: it alone is refreshed
    fetched = desk.fake.token_fetches()
    desk.reply("alice", mp_cid, "再发一条")
    desk.jobs()
    refreshes = [c.json for c in desk.fake.calls[-3:] if c.path == "/cgi-bin/stable_token"]
    assert desk.fake.token_fetches() == fetched + 1 and [r["appid"] for r in refreshes] == [MP_APP]
    after = {key.decode(): redis.get(key) for key in redis.scan_iter("*:access_token")}
    [oa_key] = [k for k in stored if OA_APP in k]
    [mp_key] = [k for k in stored if MP_APP in k]
    assert after[oa_key] == stored[oa_key] and after[mp_key] != stored[mp_key]
    assert desk.fake.sent("o-mp-tok")[-1]["text"]["content"] == "再发一条"
    assert desk.tokens_of("o-oa-tok") == {OA_APP}


@pytest.mark.parametrize("chooses, served_by", [(True, "bob"), (False, "alice")])
def test_a_session_from_naming_an_agent_chooses_them_where_the_shop_allows(desk, chooses, served_by):
    """The 客服 button's session-from is the shopper's scene: agent_<username> there chooses the
    agent as a QR scene does (docs/routing.md, step 2); else least_load's tie goes to alice."""
    desk.load(settings={"customer_chooses_agent": chooses}, agents=[agent("alice", "admin"), agent("bob")])
    desk.online("alice", "bob")
    assert push(desk.client, enter_push("o-mp-choose", "agent_bob")).data == b"success"
    desk.write("o-mp-choose", "找Bob")
    desk.jobs()
    assert agent_of(desk.conv("o-mp-choose")) == served_by
