"""Shop cards (product, coupon, order) delivered end to end on SQLite and PostgreSQL: an outbox row
whose media is the card's snapshot, sent by the real delivery job through each channel — the
Official Account's news article or text, the Mini Program's page card with its thumbnail fetched
from the shop (served here over local HTTP) once and uploaded once, falling back to a link or the
card's text when the picture cannot be had and recording the form sent. The widget's: test_widget_cards.py."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.wechat.mp_push import text_push
from bridge import delivery
from bridge.infra import db, tasks
from bridge.media.store import MediaStore
from bridge.models import Conversation, Customer, Message
from tests.conftest import make_app
from tests.factories import login
from tests.test_card_forms import COUPON, PRODUCT
from tests.test_delivery import Desk, run_jobs
from tests.test_delivery_images import PNG, UPLOAD
from tests.test_mp_webhook import MP_APP, mp, push  # noqa: F401  (mp: the shop with Mini Programs)


class ShopImages:
    """The shop's own web server: its product pictures by path, every request counted."""

    def __init__(self, files: dict[str, tuple[bytes, str]]):
        self.files, self.hits = files, []
        images = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                images.hits.append(self.path)
                body, kind = images.files.get(self.path, (b"<html>not found</html>", "text/html"))
                self.send_response(200 if self.path in images.files else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def shop_images():
    images = ShopImages({"/img/42.png": (PNG, "image/png"), "/img/page.png": (b"<html>a page</html>", "image/png")})
    yield images
    images.server.shutdown()
    images.server.server_close()


@pytest.fixture
def media_dir(tmp_path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def app(database_url, redis_url, fake_wechat, media_dir):
    app = make_app(database_url, redis_url, fake_wechat.url, DELIVERY_STALE_SECONDS=0, MEDIA_DIR=str(media_dir))
    yield app
    db.dispose(app)


def send_card(app, shopper: str, card: dict) -> int:
    """The card as the agent API stores it (its title the text, its snapshot the media), delivered by the job."""
    message_id = store_card(app, shopper, card)
    run_jobs(app)
    return message_id


def store_card(app, shopper: str, card: dict) -> int:
    """The card's outbox row in the shopper's latest conversation, its delivery enqueued."""
    with db.new_session(app) as s:
        conversation = s.scalar(select(Conversation).join(Customer, Customer.id == Conversation.customer_id)
                                .where(Customer.external_id == shopper).order_by(Conversation.id.desc()).limit(1))
        message = delivery.create_outbound(s, conversation, "agent", card["kind"], card["title"],
                                           datetime.now(timezone.utc), agent_id=conversation.agent_id, media=card)
        s.commit()
        message_id = message.id
    with app.app_context():
        tasks.enqueue_delivery(message_id, "agent")
    return message_id


def stored(app, message_id: int) -> Message:
    with db.new_session(app) as s:
        return s.get(Message, message_id)


# -- the Official Account --------------------------------------------------------------------------

def test_the_official_account_sends_a_news_article_and_a_text(app, client, fake_wechat):
    Desk.open(app, client).shopper_writes("o-oa-card")
    news = send_card(app, "o-oa-card", PRODUCT)
    text = send_card(app, "o-oa-card", COUPON)
    assert fake_wechat.sent("o-oa-card") == [
        {"touser": "o-oa-card", "msgtype": "news", "news": {"articles": [{
            "title": "碎花连衣裙", "description": "¥199.00", "url": "https://shop.example/item/42",
            "picurl": "https://shop.example/img/42.jpg"}]}},
        {"touser": "o-oa-card", "msgtype": "text", "text": {"content": "满199减20\n2026-12-31 前有效"}}]
    assert [(stored(app, i).delivery, stored(app, i).media["form"]) for i in (news, text)] == [
        ("sent", "news"), ("sent", "text")]


# -- the Mini Program --------------------------------------------------------------------------------

@pytest.fixture
def mp_shopper(client, mp):  # noqa: F811
    def opened(openid: str) -> str:
        push(client, text_push(openid, "这条裙子有货吗"))
        client.patch("/api/v1/me", headers=login(client), json={"status": "online"})
        return openid
    return opened


def page_card(images: ShopImages, picture: str = "/img/42.png", **change) -> dict:
    return {**PRODUCT, "form": "miniprogrampage", "image": images.url + picture, **change}


def test_a_page_cards_thumbnail_is_fetched_once_and_uploaded_once(app, mp_shopper, fake_wechat, shop_images,
                                                                  media_dir):
    shopper = mp_shopper("o-mp-page")
    first = send_card(app, shopper, page_card(shop_images))
    second = send_card(app, shopper, page_card(shop_images))
    pages = [m for m in fake_wechat.sent(shopper) if m["msgtype"] == "miniprogrampage"]
    assert len(pages) == 2 and pages[0] == pages[1]
    assert pages[0]["miniprogrampage"]["title"] == "碎花连衣裙"
    assert pages[0]["miniprogrampage"]["pagepath"] == "pages/item/item?id=42"
    assert shop_images.hits == ["/img/42.png"]  # fetched once
    [upload] = [c for c in fake_wechat.calls if c.path == UPLOAD]  # uploaded once, by the Mini Program
    assert upload.files == {"media": PNG} and fake_wechat.token_owner(upload.query["access_token"])[0] == MP_APP
    assert pages[0]["miniprogrampage"]["thumb_media_id"] in fake_wechat.uploaded[MP_APP]
    assert MediaStore(media_dir).get(MediaStore.digest(PNG)) == PNG  # kept in the media store
    assert [(stored(app, i).delivery, stored(app, i).media["form"]) for i in (first, second)] == [
        ("sent", "miniprogrampage")] * 2


@pytest.mark.parametrize("picture", ["/img/gone.png", "/img/page.png"])  # a 404; a web page, not a picture
def test_a_page_card_without_its_picture_goes_as_a_link_and_says_so(app, mp_shopper, fake_wechat, shop_images,
                                                                    picture):
    shopper = mp_shopper("o-mp-link")
    card = page_card(shop_images, picture)
    message_id = send_card(app, shopper, card)
    assert [m for m in fake_wechat.sent(shopper) if m["msgtype"] != "text"] == [
        {"touser": shopper, "msgtype": "link", "link": {
            "title": "碎花连衣裙", "description": "¥199.00", "url": "https://shop.example/item/42",
            "thumb_url": card["image"]}}]
    assert not [c for c in fake_wechat.calls if c.path == UPLOAD]
    row = stored(app, message_id)
    assert (row.delivery, row.media["form"]) == ("sent", "link")  # what the shopper got, for the agent
    assert {k: v for k, v in row.media.items() if k != "form"} == {k: v for k, v in card.items() if k != "form"}


def test_a_page_card_with_neither_picture_nor_url_goes_as_its_text(app, mp_shopper, fake_wechat, shop_images):
    shopper = mp_shopper("o-mp-text")
    message_id = send_card(app, shopper, page_card(shop_images, "/img/gone.png", url=None, kind="order"))
    assert fake_wechat.sent(shopper)[-1] == {"touser": shopper, "msgtype": "text", "text": {"content": PRODUCT["text"]}}
    assert stored(app, message_id).media["form"] == "text"


def test_a_mini_program_link_card_names_the_shops_picture(app, mp_shopper, fake_wechat, shop_images):
    shopper = mp_shopper("o-mp-linkform")
    send_card(app, shopper, {**PRODUCT, "form": "link"})
    assert fake_wechat.sent(shopper)[-1]["link"] == {
        "title": "碎花连衣裙", "description": "¥199.00", "url": "https://shop.example/item/42",
        "thumb_url": "https://shop.example/img/42.jpg"}
    assert shop_images.hits == []  # WeChat fetches a link card's picture itself


def test_a_card_picture_is_never_fetched_from_the_bridges_own_network(app, mp_shopper, fake_wechat, shop_images):
    """A shop's data names the picture's URL: outside tests and demos (config
    CARD_IMAGES_FROM_PRIVATE_ADDRESSES), a loopback, LAN or link-local host is refused before
    any request, and the card goes as a link."""
    from bridge.media.thumbnails import ThumbnailUnavailable, public_host

    for url in ("http://127.0.0.1:9/x.png", "http://10.0.0.7/x.png", "http://169.254.169.254/latest",
                "http://[::1]/x.png", "http://localhost/x.png"):
        with pytest.raises(ThumbnailUnavailable) as refused:
            public_host(url)
        assert refused.value.code in ("private_address", "unreachable"), url
    app.config["CARD_IMAGES_FROM_PRIVATE_ADDRESSES"] = False
    shopper = mp_shopper("o-mp-private")
    message_id = send_card(app, shopper, page_card(shop_images, "/img/42.png"))
    assert shop_images.hits == []  # refused before any request
    assert (stored(app, message_id).delivery, stored(app, message_id).media["form"]) == ("sent", "link")
