"""What each demo shopper's WeChat shows: every message between a shopper and a sandbox
account, in the order it happened, in one append-only file (several processes may write).

An entry is {"seq", "at", "app_id", "openid", "from": "shopper" | "shop", "via", "msg"}; `msg`
has the shape of a customer-service message body ({"msgtype": "text", "text": {...}}), whether it
came as a passive reply, through the customer-service API, or from the shopper.
"""
from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path


class Phone:
    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, app_id: str, openid: str, sender: str, via: str, msg: dict) -> None:
        line = json.dumps({"at": round(time.time(), 3), "app_id": app_id, "openid": openid,
                           "from": sender, "via": via, "msg": msg}, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(line + "\n")

    def read(self, app_id: str, openid: str, after: int = 0) -> list[dict]:
        """This shopper's entries whose seq is above AFTER (seq counts every entry of the file)."""
        if not self.path.exists():
            return []
        entries = []
        with self.path.open(encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            for seq, line in enumerate(f, start=1):
                if seq <= after or not line.endswith("\n"):
                    continue
                entry = json.loads(line)
                if entry["app_id"] == app_id and entry["openid"] == openid:
                    entries.append({"seq": seq, **entry})
        return entries

    def shoppers(self, app_id: str) -> list[str]:
        """The openids this account has talked with, most recent first."""
        seen: dict[str, None] = {}
        for entry in reversed(self.read_all()):
            if entry["app_id"] == app_id:
                seen.setdefault(entry["openid"])
        return list(seen)

    def read_all(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            return [json.loads(line) for line in f if line.endswith("\n")]
