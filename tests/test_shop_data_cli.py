"""`flask shopdata`: keys made (shown once, on the last line, kept hashed), listed by their
public part and revoked; files imported whole or not at all, CSV and JSON checked as the API
checks them."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from bridge.infra import db
from bridge.shopdata.models import Coupon, Order, OrderBuyer, Product
from tests.factories import login
from tests.shop_data_kit import COUPONS, PRODUCTS, order


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=["shopdata", *args])


def _count(app, table) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(table))


def test_a_key_is_shown_once_listed_by_its_prefix_and_revoked(app, client, shop):
    made = _run(app, "keys", "create", "acme", "--label", "order system")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    prefix = key.split(".")[0]
    auth = {"Authorization": f"Bearer {key}"}
    assert client.put("/api/v1/shop-data/products", headers=auth, json={"items": PRODUCTS[:1]}).status_code == 200
    listed = _run(app, "keys", "list", "acme").stdout
    assert prefix in listed and "active" in listed and "order system" in listed and key not in listed
    assert _run(app, "keys", "revoke", prefix).exit_code == 0
    assert "revoked" in _run(app, "keys", "list", "acme").stdout
    assert client.put("/api/v1/shop-data/products", headers=auth, json={"items": PRODUCTS[:1]}).status_code == 401
    assert _run(app, "keys", "create", "no-such-shop").exit_code != 0
    assert _run(app, "keys", "revoke", "sd_nope").exit_code != 0


def test_a_json_file_is_imported_and_again_changes_nothing(app, client, shop, tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"products": PRODUCTS, "coupons": COUPONS, "orders": [order("N-1"), order("N-2")]},
                               ensure_ascii=False), encoding="utf-8")
    for _ in range(2):
        done = _run(app, "import", "acme", str(path))
        assert done.exit_code == 0, done.output
        assert "3 products" in done.stdout and "2 orders" in done.stdout
    assert (_count(app, Product), _count(app, Order), _count(app, Coupon), _count(app, OrderBuyer)) == (3, 2, 2, 2)
    alice = login(client)
    assert [p["id"] for p in client.get("/api/v1/products", headers=alice, query_string={"q": "连衣"}
                                        ).get_json()["items"]] == ["p-dress"]


def test_csv_files_of_products_and_of_order_lines(app, shop, tmp_path):
    products = tmp_path / "products.csv"
    products.write_text("id,title,price,image,category,on_sale\n"
                        "p-1,纯棉T恤,59.9,https://shop.example/t.png,menswear,是\n"
                        "p-2,真丝围巾,199,,accessories,否\n", encoding="utf-8-sig")
    assert _run(app, "import", "acme", str(products)).exit_code == 0
    lines = tmp_path / "export.csv"
    lines.write_text("number,openid.acme-oa,buyer_user_id,product_id,quantity,price,amount,state,logistics_company,"
                     "tracking_number,created_at\n"
                     "A-1,o-csv,,p-1,2,59.9,318.8,shipped,中通,ZT1,2026-11-30T10:00:00+08:00\n"
                     "A-1,,,p-2,1,199,,,,,\n"
                     "A-2,,u-7,p-2,1,199,199,unpaid,,,2026-12-01T09:00:00Z\n", encoding="utf-8")
    done = _run(app, "import", "acme", str(lines), "--kind", "orders")
    assert done.exit_code == 0, done.output + done.stderr
    with db.new_session(app) as session:
        a1 = session.scalar(select(Order).where(Order.number == "A-1"))
        assert [i["product_id"] for i in a1.items] == ["p-1", "p-2"] and a1.amount_cents == 31880
        assert (a1.buyer_openids, a1.logistics_company, a1.state) == ({"acme-oa": "o-csv"}, "中通", "shipped")
        assert session.get(Product, (shop.id, "p-2")).on_sale is False


def test_a_file_with_one_bad_row_imports_nothing_and_names_the_row(app, shop, tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"products": PRODUCTS + [{**PRODUCTS[0], "id": "p-9", "price": "free"}]}),
                    encoding="utf-8")
    done = _run(app, "import", "acme", str(path))
    assert done.exit_code != 0 and "items[3].price" in done.stderr and "nothing imported" in done.stderr
    assert _count(app, Product) == 0
    for name, text in (("x.json", "{"), ("x.txt", "id\n"), ("things.csv", "id,title\n1,x\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert _run(app, "import", "acme", str(tmp_path / name)).exit_code != 0
