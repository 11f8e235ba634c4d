"""A push's fields → the one normalized message, with what the action means for the bridge.

The same for an Official Account's and a Mini Program's pushes (XML or JSON, read to the same
fields). Unknown message types stay, as unknown. Events say here what they mean: a follow or
an unfollow, a QR scene scanned or a Mini Program's 客服 button's session-from (the entry
`scene`), a menu key clicked (the entry `menu`).
"""
from __future__ import annotations

from collections.abc import Mapping

from bridge.channels.contract import MAX_ENTRY, InboundMessage, MalformedRequest, whole_number

_MEDIA_FIELDS = {
    "image": {"media_id": "MediaId", "pic_url": "PicUrl"},
    "voice": {"media_id": "MediaId", "format": "Format", "recognition": "Recognition"},
    "video": {"media_id": "MediaId", "thumb_media_id": "ThumbMediaId"},
    "shortvideo": {"media_id": "MediaId", "thumb_media_id": "ThumbMediaId"},
    "location": {"x": "Location_X", "y": "Location_Y", "scale": "Scale", "label": "Label"},
    "link": {"title": "Title", "description": "Description", "url": "Url"},
    # A Mini Program page the shopper shared from the Mini Program (a card: FACTS.md §3).
    # Its thumbnail's ThumbMediaId is the media the bridge fetches and keeps (media_id).
    "miniprogrampage": {"title": "Title", "app_id": "AppId", "page_path": "PagePath", "thumb_url": "ThumbUrl",
                        "media_id": "ThumbMediaId"},
}
_TEXT_FIELD = {"text": "Content", "voice": "Recognition", "location": "Label", "link": "Title",
               "miniprogrampage": "Title"}
QR_PREFIX = "qrscene_"  # a follow through a QR code names its scene with this prefix
# Room beyond WeChat's own values (an openid is 28 characters, a MsgId a 64-bit number, CreateTime
# unix seconds); a push with more is no WeChat push, and is refused before any work.
MAX_ID = 64  # FromUserName, MsgId
MAX_CREATE_TIME = 2**32


def normalize(channel_key: str, f: Mapping[str, str]) -> InboundMessage:
    msg_type = f.get("MsgType", "").lower()
    user = f.get("FromUserName", "")
    created = whole_number(f.get("CreateTime", ""), 0, MAX_CREATE_TIME)
    if not user or created is None:
        raise MalformedRequest("push without FromUserName or CreateTime (unix seconds)")
    if len(user) > MAX_ID or len(f.get("MsgId", "")) > MAX_ID:
        raise MalformedRequest(f"FromUserName or MsgId over {MAX_ID} characters")
    common = {"channel_key": channel_key, "user_id": user, "created_at": created,
              "account_id": f.get("ToUserName"), "raw": dict(f)}
    if msg_type == "event":
        return _event(f, user, created, common)
    msg_id = f.get("MsgId") or f"{user}:{created}"
    kind = msg_type if msg_type in _MEDIA_FIELDS or msg_type == "text" else "unknown"
    media = None
    if kind in _MEDIA_FIELDS:
        media = {name: f[tag] for name, tag in _MEDIA_FIELDS[kind].items() if tag in f}
    text = f.get(_TEXT_FIELD.get(kind, ""), None) or None
    return InboundMessage(external_id=msg_id, kind=kind, text=text, media=media, **common)


def _event(f: Mapping[str, str], user: str, created: int, common: dict) -> InboundMessage:
    event = f.get("Event", "").lower()
    key = f.get("EventKey") or None
    if event == "subscribe" and key and key.startswith(QR_PREFIX):
        key = key[len(QR_PREFIX):]
    entry: dict[str, str] = {}
    if event in ("subscribe", "scan") and key:
        entry["scene"] = key
    elif event == "click" and key:
        entry["menu"] = key
    elif event == "user_enter_tempsession" and f.get("SessionFrom"):
        # A Mini Program's 客服 button's session-from (up to 1,000 characters): the entry scene,
        # as entry_routes test it; the whole of it stays in the push's raw fields.
        entry["scene"] = f["SessionFrom"][:MAX_ENTRY]
    media = None
    if event == "location":
        media = {"latitude": f.get("Latitude"), "longitude": f.get("Longitude"),
                 "precision": f.get("Precision")}
    follows = {"subscribe": True, "unsubscribe": False}.get(event)
    return InboundMessage(external_id=f"ev:{user}:{created}:{event}", kind="event", event=event,
                          event_key=key, entry=entry, follows=follows, media=media, **common)
