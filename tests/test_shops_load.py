"""`flask shops load`: validated whole, idempotent, all or nothing, argon2 passwords."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.infra import db
from bridge.models import Agent, AgentGroup, AutoReply, Channel, Group, QuickPhrase, Shop
from bridge.shops.file import ConfigError, validate
from tests.factories import BASE_SHOP, OTHER_SHOP, login, post_acme, shop_doc, text_xml

TABLES = (Shop, Channel, Group, Agent, AgentGroup, AutoReply, QuickPhrase)


def snapshot(app) -> dict:
    """Every column of every config row: what "changes nothing" is checked against."""
    with db.new_session(app) as s:
        return {m.__tablename__: [{c.name: getattr(r, c.key) for c in m.__mapper__.columns}
                                  for r in s.scalars(select(m))] for m in TABLES}


def load(app, tmp_path, doc, name="shops.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return app.test_cli_runner().invoke(args=["shops", "load", str(path)])


def test_load_creates_then_loading_again_changes_nothing(app, tmp_path):
    first = load(app, tmp_path, shop_doc())
    assert first.exit_code == 0, first.output
    assert "created: acme, other" in first.output
    before = snapshot(app)
    second = load(app, tmp_path, shop_doc())
    assert second.exit_code == 0 and "unchanged: acme, other" in second.output
    assert snapshot(app) == before
    assert len(before["agents"]) == 3 and len(before["auto_replies"]) == 3


def test_passwords_are_stored_with_argon2id(app, tmp_path):
    load(app, tmp_path, shop_doc())
    with db.new_session(app) as s:
        hashes = s.scalars(select(Agent.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any("alice-password" in h for h in hashes)


def test_an_update_changes_only_what_changed_and_bumps_the_version(app, tmp_path):
    load(app, tmp_path, shop_doc())
    doc = shop_doc()
    doc["shops"][0]["auto_replies"][0]["reply"]["text"] = "24小时内发货"
    doc["shops"][0]["agents"][1]["max_concurrent"] = 3
    result = load(app, tmp_path, doc)
    assert "updated: acme" in result.output and "unchanged: other" in result.output
    with db.new_session(app) as s:
        shop = s.scalar(select(Shop).where(Shop.key == "acme"))
        assert shop.config_version == 2
        assert s.scalar(select(Agent.max_concurrent).where(Agent.username == "bob")) == 3
    # The webhook answers with the new rule at once: the matcher cache follows config_version.
    assert "24小时内发货" in post_acme(app.test_client(), text_xml("o1", "发货")).get_data(as_text=True)


def test_a_new_password_ends_old_sessions(app, client, tmp_path):
    load(app, tmp_path, shop_doc())
    headers = login(client, "bob")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    doc = shop_doc()
    doc["shops"][0]["agents"][1]["password"] = "bob-new-password"
    load(app, tmp_path, doc)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    login(client, "bob", "bob-new-password")


def test_what_the_file_no_longer_lists_is_disabled(app, client, tmp_path):
    load(app, tmp_path, shop_doc())
    doc = shop_doc()
    doc["shops"][0]["channels"] = doc["shops"][0]["channels"][1:]
    doc["shops"][0]["agents"] = doc["shops"][0]["agents"][:1]
    load(app, tmp_path, doc)
    with db.new_session(app) as s:
        assert s.scalar(select(Channel.enabled).where(Channel.key == "acme-oa")) is False
        assert s.scalar(select(Agent.active).where(Agent.username == "bob")) is False
    assert post_acme(client, text_xml("o1", "发货")).status_code == 404
    resp = client.post("/api/v1/auth/login", json={"shop": "acme", "username": "bob", "password": "bob-password"})
    assert resp.status_code == 401


def _broken(path: list, value=None, delete=False) -> dict:
    doc = shop_doc()
    target = doc
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


BAD = [
    (_broken(["shops", 0, "colour"], "red"), "shops[0].colour: unknown key"),
    (_broken(["shops", 0, "settings", "routing"], "fastest"), "shops[0].settings.routing: must be one of"),
    (_broken(["shops", 0, "settings", "surprise"], 1), "shops[0].settings.surprise: unknown key"),
    (_broken(["shops", 0, "settings", "customer_idle_minutes"], -5), "customer_idle_minutes: must be between 0 and 1440"),
    (_broken(["shops", 0, "settings", "rating_on_end"], "yes"), "rating_on_end: must be true or false"),
    (_broken(["shops", 0, "settings", "working_hours"], [{"days": [8], "start": "09:00", "end": "18:00"}]),
     "working_hours[0].days[0]: must be between 1 and 7"),
    (_broken(["shops", 0, "settings", "working_hours"], [{"days": [1], "start": "18:00", "end": "09:00"}]),
     "working_hours[0].end: must be after start"),
    (_broken(["shops", 0, "timezone"], "Mars/Olympus"), "shops[0].timezone: unknown time zone"),
    (_broken(["shops", 0, "agents", 0, "max_concurrent"], 51), "agents[0].max_concurrent: must be between 1 and 50"),
    (_broken(["shops", 0, "agents", 0, "max_concurrent"], True), "agents[0].max_concurrent: must be a whole number"),
    (_broken(["shops", 0, "agents", 0, "role"], "root"), "agents[0].role: must be one of admin, agent"),
    (_broken(["shops", 0, "agents", 0, "groups"], ["nightshift"]), "agents[0].groups[0]: no group 'nightshift'"),
    (_broken(["shops", 0, "agents", 1, "username"], "alice"), "agents[1].username: 'alice' appears twice"),
    (_broken(["shops", 0, "agents", 0, "password"], None, delete=True), "agents[0].password: is required"),
    (_broken(["shops", 0, "channels", 0, "kind"], "telegram"), "channels[0].kind: must be one of"),
    (_broken(["shops", 0, "channels", 0, "app_id"], "not-an-app-id"), "channels[0].app_id: must be wx followed"),
    (_broken(["shops", 0, "channels", 1, "encoding_aes_key"], "short"), "channels[1].encoding_aes_key: must be 43"),
    (_broken(["shops", 0, "channels", 0, "secret"], "x" * 20), "channels[0].secret: unknown key"),
    (_broken(["shops", 0, "channels", 0, "mode"], "safe"), "channels[0].encoding_aes_key: is required in safe mode"),
    (_broken(["shops", 0, "channels", 1, "mode"], "secure"), "channels[1].mode: must be one of plain, compat, safe"),
    (_broken(["shops", 1, "channels", 0, "key"], "acme-oa"), "shops[1].channels[0].key: 'acme-oa' is already used"),
    (_broken(["shops", 0, "channels", 1, "app_id"], "wx00000000000000a1"),
     "shops[0].channels[1].app_id: 'wx00000000000000a1' appears twice: one WeChat app is one channel"),
    (_broken(["shops", 0, "auto_replies", 2, "keywords"], ["(unclosed"]), "auto_replies[2].keywords[0]: is not a valid regex"),
    (_broken(["shops", 0, "auto_replies", 0, "match"], "fuzzy"), "auto_replies[0].match: must be one of"),
    (_broken(["shops", 0, "auto_replies", 0, "reply"], {"type": "text"}), "auto_replies[0].reply.text: is required"),
    (_broken(["shops", 0, "entry_routes"], [{"when": {"weather": "rain"}, "group": "presales"}]),
     "entry_routes[0].when.weather: unknown key"),
    (_broken(["shops", 0, "entry_routes"], [{"when": {"scene": "vip"}, "group": "vip"}]),
     "entry_routes[0].group: no group 'vip'"),
    ({"shops": []}, "shops: must have 1 to 1000 items"),
    ({"shop": []}, "shop: unknown key"),
    ([], "file: must be an object"),
]


@pytest.mark.parametrize("doc, message", BAD, ids=[m for _, m in BAD])
def test_a_bad_file_names_the_field(doc, message):
    with pytest.raises(ConfigError) as caught:
        validate(doc)
    assert message in str(caught.value)


def test_a_bad_file_loads_nothing_at_all(app, tmp_path):
    doc = shop_doc()
    doc["shops"][1]["agents"][0]["max_concurrent"] = 0  # the second shop is broken
    result = load(app, tmp_path, doc)
    assert result.exit_code != 0
    assert "shops[1].agents[0].max_concurrent: must be between 1 and 50; nothing was loaded" in result.output
    assert snapshot(app)["shops"] == []


def test_a_conflict_found_while_writing_rolls_everything_back(app, tmp_path):
    load(app, tmp_path, {"shops": [copy.deepcopy(OTHER_SHOP)]})
    before = snapshot(app)
    stolen = copy.deepcopy(BASE_SHOP)
    stolen["channels"][0]["key"] = "other-oa"  # belongs to the other shop already
    result = load(app, tmp_path, {"shops": [stolen]})
    assert result.exit_code != 0 and "shops[0].channels[0].key: 'other-oa' belongs to another shop" in result.output
    assert snapshot(app) == before


def test_not_json_is_an_error(app, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["shops", "load", str(path)])
    assert result.exit_code != 0 and "not valid JSON" in result.output


def test_the_demo_file_loads(app):
    demo = Path(__file__).resolve().parent.parent / "demo" / "shop.json"
    result = app.test_cli_runner().invoke(args=["shops", "load", str(demo)])
    assert result.exit_code == 0 and "created: demo" in result.output
