"""Shop data files for `flask shopdata import`: JSON as the API takes it, or CSV as a shop's
back office exports it. Either becomes the API's rows, checked by rows.batch like any call.

- JSON: {"products": [...], "orders": [...], "coupons": [...]} (any of them), the rows as the
  API's bodies hold them.
- CSV (UTF-8, a header row; the kind is named, or read from the file's name): products
  `id,title,price,image,url,category,page_path,on_sale`; coupons `id,title,value,condition,
  valid_until,url,page_path`; orders one row per order line, `number,buyer_user_id,
  buyer_unionid,openid.<channel key>…,product_id,quantity,price,amount,state,
  logistics_company,tracking_number,created_at,updated_at`, the rows of one number making
  one order (its order fields read from its first row). Empty cells are absent fields.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from bridge.shopdata.rows import KINDS

MAX_FILE = 256 * 1024 * 1024
TRUE, FALSE = ("true", "1", "yes", "是", "y"), ("false", "0", "no", "否", "n")


class FileError(Exception):
    """The file cannot be read as shop data; the message says where."""


def read(path: Path, kind: str | None) -> dict[str, list[Any]]:
    """The rows of each kind in the file at PATH."""
    if path.stat().st_size > MAX_FILE:
        raise FileError(f"{path.name} is over {MAX_FILE // 2**20} MB: split it")
    text = path.read_bytes().decode("utf-8-sig", errors="strict")
    if path.suffix.lower() == ".json":
        return _json(text, kind)
    if path.suffix.lower() == ".csv":
        kind = kind or next((k for k in KINDS if k in path.name.lower()), None)
        if kind is None:
            raise FileError("name the kind of a CSV file: --kind products|orders|coupons")
        return {kind: _csv(text, kind)}
    raise FileError(f"{path.name}: a .json or .csv file, please")


def _json(text: str, kind: str | None) -> dict[str, list[Any]]:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise FileError(f"not valid JSON: {exc}") from None
    if kind and isinstance(body, dict) and set(body) == {"items"}:
        body = {kind: body["items"]}
    if not isinstance(body, dict) or not body or set(body) - set(KINDS):
        raise FileError('the JSON file is {"products": [...], "orders": [...], "coupons": [...]} (any of them)')
    for name, rows in body.items():
        if not isinstance(rows, list):
            raise FileError(f"{name} must be a list")
    return body


def _csv(text: str, kind: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise FileError("the CSV file has no header row")
    rows = [({k.strip(): (v or "").strip() for k, v in row.items() if k is not None}, reader.line_num)
            for row in reader]
    if kind == "orders":
        return _orders(rows)
    return [_flat(row, kind) for row, _ in rows]


def _flat(row: dict[str, str], kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in row.items() if v != ""}
    if kind == "products" and "on_sale" in out:
        word = out["on_sale"].lower()
        out["on_sale"] = True if word in TRUE else False if word in FALSE else out["on_sale"]
    return out


ORDER_FIELDS = ("amount", "state", "created_at", "updated_at")


def _orders(rows: list[tuple[dict[str, str], int]]) -> list[dict[str, Any]]:
    orders: dict[str, dict[str, Any]] = {}
    for row, _line in rows:
        number = row.get("number", "")
        order = orders.get(number)
        if order is None:
            buyer: dict[str, Any] = {"openids": {k[len("openid."):]: v for k, v in row.items()
                                                 if k.startswith("openid.") and v}}
            for field in ("user_id", "unionid"):
                if row.get(f"buyer_{field}"):
                    buyer[field] = row[f"buyer_{field}"]
            order = orders[number] = {"number": number, "buyer": buyer, "items": [],
                                      **{k: row[k] for k in ORDER_FIELDS if row.get(k)}}
            logistics = {k: row[f"logistics_{k}"] for k in ("company", "tracking_number") if row.get(f"logistics_{k}")}
            if logistics:
                order["logistics"] = logistics
        quantity = row.get("quantity", "")
        order["items"].append({"product_id": row.get("product_id", ""),
                               "quantity": int(quantity) if quantity.isdigit() else quantity,
                               "price": row.get("price", "")})
    return list(orders.values())
