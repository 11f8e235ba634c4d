"""A shop with widget channels, and a shopper's calls to them, for the widget's tests."""
from __future__ import annotations

import copy
import secrets

from adapters.widget.identity import user_hash
from tests.factories import BASE_SHOP, load_shop, shop_doc

SECRET = "acme-widget-secret-0123456789"
STRICT_SECRET = "acme-strict-secret-0123456789"
SHOP_ORIGIN = "https://shop.acme.example"
WIDGETS = [
    {"kind": "widget", "key": "acme-web", "secret": SECRET},
    {"kind": "widget", "key": "acme-strict", "secret": STRICT_SECRET, "require_identity": True,
     "allowed_origins": [SHOP_ORIGIN]},
]


def widget_shop(app, **settings):
    return load_shop(app, shop_doc(
        channels=copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(WIDGETS),
        entry_routes=[{"when": {"scene": "vip"}, "group": "presales"}],
        settings={"routing": "least_load", "welcome_message": "您好，我是{agent}", **settings}))


def visitor(client, channel: str = "acme-web", **body) -> dict:
    """A new visitor's headers (its token as the widget sends it)."""
    resp = client.post(f"/widget/{channel}/visitor", json=body)
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def user(client, user_id: str, channel: str = "acme-web", secret: str = SECRET, name: str | None = None,
         **headers) -> dict:
    resp = client.post(f"/widget/{channel}/visitor", headers=headers,
                       json={"user": user_id, "hash": user_hash(secret, user_id), "name": name})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}", **headers}


def write(client, headers: dict, text: str, client_id: str | None = None, channel: str = "acme-web", **body):
    return client.post(f"/widget/{channel}/messages", headers=headers,
                       json={"client_id": client_id or secrets.token_hex(8), "text": text, **body})


def state(client, headers: dict, channel: str = "acme-web") -> dict:
    resp = client.get(f"/widget/{channel}/state", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def sse(client, headers: dict, channel: str = "acme-web", last_event_id: str | None = None,
        seconds: float = 0.5) -> list[tuple[str | None, str, dict]]:
    """The events a widget's stream gives in SECONDS: (id, type, data)."""
    import json
    extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
    resp = client.get(f"/widget/{channel}/events?max_seconds={seconds}", headers={**headers, **extra})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    events, current = [], {}
    for line in resp.get_data(as_text=True).split("\n"):
        if not line:
            if "event" in current:
                events.append((current.get("id"), current["event"], json.loads(current.get("data", "{}"))))
            current = {}
        elif not line.startswith(":") and ":" in line:
            name, value = line.split(":", 1)
            current[name] = value[1:] if value.startswith(" ") else value
    return events
