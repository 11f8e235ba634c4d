"""`flask shops export KEY`: the shop back in the file format, which loads as a no-op; and
`shops load` naming every error in the file at once."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from sqlalchemy import select

from bridge.infra import db
from bridge.models import (
    Agent,
    AgentGroup,
    AutoReply,
    Channel,
    EntryRoute,
    Group,
    QuickPhrase,
    Shop,
)
from bridge.shops.file import ConfigError, validate
from tests.factories import shop_doc

DEMO = Path(__file__).resolve().parent.parent / "demo" / "shop.json"
TABLES = (Shop, Channel, Group, Agent, AgentGroup, EntryRoute, AutoReply, QuickPhrase)


def snapshot(app) -> dict:
    """Every column of every config row, in id order."""
    with db.new_session(app) as s:
        return {m.__tablename__: [{a.key: getattr(r, a.key) for a in m.__mapper__.column_attrs}
                                  for r in s.scalars(select(m).order_by(*m.__mapper__.primary_key))]
                for m in TABLES}


def load(app, tmp_path, doc, name="shops.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return app.test_cli_runner().invoke(args=["shops", "load", str(path)])


def export(app, key: str, *options: str):
    return app.test_cli_runner().invoke(args=["shops", "export", key, *options])


def test_loading_the_demo_shops_export_changes_nothing(app, tmp_path):
    assert app.test_cli_runner().invoke(args=["shops", "load", str(DEMO)]).exit_code == 0
    before = snapshot(app)
    result = export(app, "demo")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    again = load(app, tmp_path, exported, "export.json")
    assert again.exit_code == 0 and again.output == "unchanged: demo\n", again.output
    assert snapshot(app) == before
    assert len(before["agents"]) == 2 and len(before["entry_routes"]) == 2 and len(before["agent_groups"]) == 3


def test_the_export_is_the_file_with_hashes_for_passwords(app):
    app.test_cli_runner().invoke(args=["shops", "load", str(DEMO)])
    [shop] = json.loads(export(app, "demo").stdout)["shops"]
    demo = json.loads(DEMO.read_text(encoding="utf-8"))["shops"][0]
    for field in ("key", "name", "timezone", "groups", "entry_routes", "auto_replies", "quick_phrases"):
        assert shop[field] == demo[field], field
    assert shop["settings"] == validate({"shops": [demo]})[0]["settings"]  # defaults filled in
    assert len(shop["channels"]) == len(demo["channels"]) == 3  # the Official Account, the Mini Program, the widget
    for channel, given in zip(shop["channels"], demo["channels"]):
        assert {k: channel[k] for k in given} == given  # secrets included
    alice = shop["agents"][0]
    assert "password" not in alice and alice["password_hash"].startswith("$argon2id$")
    assert {k: v for k, v in alice.items() if k != "password_hash"} == \
        {k: v for k, v in demo["agents"][0].items() if k != "password"}


def test_what_changed_since_the_load_is_exported_and_what_was_dropped_is_not(app, client, tmp_path):
    doc = shop_doc()
    doc["shops"][0]["agents"].append({"username": "carol", "password": "carol-password", "name": "Carol"})
    load(app, tmp_path, doc)
    load(app, tmp_path, shop_doc())  # carol is no longer listed: disabled, not deleted
    token = client.post("/api/v1/auth/login", json={"shop": "acme", "username": "bob",
                                                     "password": "bob-password"}).get_json()["token"]
    resp = client.patch("/api/v1/me", json={"max_concurrent": 7}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    before = snapshot(app)
    path = tmp_path / "acme.json"
    result = export(app, "acme", "-o", str(path))
    assert result.exit_code == 0 and result.stdout == ""
    assert os.stat(path).st_mode & 0o077 == 0  # it holds the shop's secrets
    [shop] = json.loads(path.read_text(encoding="utf-8"))["shops"]
    assert [a["username"] for a in shop["agents"]] == ["alice", "bob"]
    assert shop["agents"][1]["max_concurrent"] == 7
    assert load(app, tmp_path, {"shops": [shop]}, "again.json").output == "unchanged: acme\n"
    assert snapshot(app) == before
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_exported_agent_logs_in_with_the_password_it_had(app, client, tmp_path):
    load(app, tmp_path, shop_doc())
    [shop] = json.loads(export(app, "acme").stdout)["shops"]
    shop["key"] = "acme-copy"
    for channel in shop["channels"]:
        channel["key"] += "-copy"
    assert load(app, tmp_path, {"shops": [shop]}, "copy.json").output == "created: acme-copy\n"
    resp = client.post("/api/v1/auth/login", json={"shop": "acme-copy", "username": "alice",
                                                   "password": "alice-password"})
    assert resp.status_code == 200


def test_exporting_a_shop_that_is_not_there(app):
    result = export(app, "nope")
    assert result.exit_code == 1 and result.stderr == "Error: no shop 'nope'\n"


def test_a_hash_in_place_of_the_password_is_checked():
    def broken(agent: dict) -> str:
        doc = shop_doc()
        doc["shops"][0]["agents"][0] = agent
        try:
            validate(doc)
        except ConfigError as exc:
            return str(exc)
        raise AssertionError("validated")

    alice = copy.deepcopy(shop_doc()["shops"][0]["agents"][0])
    assert "agents[0].password_hash: must be an argon2 hash" in broken({**alice, "password_hash": "md5:abc"})
    assert "agents[0].password_hash: cannot be given with password" in \
        broken({**alice, "password_hash": "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"})
    del alice["password"]
    assert "agents[0].password: is required (or password_hash" in broken(alice)


def test_every_error_in_the_file_is_named_and_nothing_is_loaded(app, tmp_path):
    doc = shop_doc()
    acme, other = doc["shops"]
    acme["agents"][1]["max_concurrent"] = 0
    acme["agents"][1]["groups"] = ["nightshift"]
    acme["settings"]["routing"] = "fastest"
    acme["colour"] = "red"
    acme["auto_replies"][0]["reply"] = {"type": "text"}
    other["channels"][0]["key"] = "acme-oa"
    del other["name"]
    result = load(app, tmp_path, doc)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {tmp_path / 'shops.json'}: 7 errors; nothing was loaded",
        "shops[0].colour: unknown key",
        "shops[0].settings.routing: must be one of least_load, round_robin, idle_rate, weighted",
        "shops[0].agents[1].max_concurrent: must be between 1 and 50",
        "shops[0].auto_replies[0].reply.text: is required for a text reply",
        "shops[0].agents[1].groups[0]: no group 'nightshift' in this shop",
        "shops[1].name: is required",
        "shops[1].channels[0].key: 'acme-oa' is already used at shops[0].channels[0].key",
    ]
    assert snapshot(app)["shops"] == []


def test_one_error_stays_one_line(app, tmp_path):
    doc = shop_doc()
    doc["shops"][0]["agents"][0]["role"] = "root"
    result = load(app, tmp_path, doc)
    assert result.stderr == (f"Error: {tmp_path / 'shops.json'}: shops[0].agents[0].role: must be one of "
                             "admin, agent; nothing was loaded\n")
