"""The shop data of bench/shop_data.py, made up (seeded) and bulk-loaded with PostgreSQL COPY.

Products have Chinese titles put together from word lists (seasons, styles, materials, who it
is for, the garment), some Latin words and model numbers, and a long tail of rare two-character
"series" names drawn from characters no other list uses, so that rare bigrams are really rare.
Their search terms are bridge.shopdata.terms.title_terms, as the API writes them.

Orders: ORDERS over SHOPPERS openids on the OA channel, spread over the last 365 days, 1–3
lines each, bought products skewed toward the popular; shopper 0 holds exactly HEAVY orders,
the others are drawn uniformly (about 5 each). 30% of shoppers also carry the shop's user id,
10% a unionid. The state follows the order's age.

Rows go straight into the tables through COPY, several tables at once on their own
connections, with `session_replication_role = replica` (the foreign-key triggers are off
during the load: every row names the one bench shop and its OA channel).
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import psycopg

from bridge.shopdata.terms import title_terms

SEASONS = ["夏季", "春季", "秋冬", "冬季", "春秋", "2025", "2026", "早春", "初秋"]
NEWS = ["新款", "爆款", "经典款", "特价", "清仓", "网红", "明星同款", "官方正品"]
STYLES = ["碎花", "条纹", "格子", "纯色", "印花", "刺绣", "蕾丝", "宽松", "修身", "显瘦", "复古", "韩版",
          "法式", "简约", "休闲", "商务", "百搭", "高腰", "短款", "长款", "大码", "学院风", "工装", "国潮",
          "小香风", "泡泡袖", "V领", "圆领", "立领", "连帽", "加厚", "薄款", "防晒", "速干"]
MATERIALS = ["纯棉", "真丝", "亚麻", "羊毛", "羊绒", "雪纺", "牛仔", "真皮", "棉麻", "冰丝", "莫代尔", "针织",
             "灯芯绒", "涤纶", "桑蚕丝"]
LATIN = ["vintage", "oversize", "ins", "polo", "denim", "basic", "retro", "slim", "cotton", "linen", "classic",
         "street", "sport", "outdoor", "urban", "premium"]
# (top category, who it is for, its nouns)
CATEGORIES = [
    ("女装", ["女士", "女款", "少女", "妈妈"], ["连衣裙", "半身裙", "衬衫", "T恤", "卫衣", "毛衣", "外套", "风衣",
                                         "羽绒服", "打底衫", "针织衫", "阔腿裤", "牛仔裤", "吊带裙", "西装"]),
    ("男装", ["男士", "男款", "青年", "爸爸"], ["衬衫", "T恤", "polo衫", "卫衣", "夹克", "外套", "羽绒服", "西装",
                                         "休闲裤", "牛仔裤", "短裤", "马甲", "毛衣"]),
    ("童装", ["儿童", "男童", "女童", "宝宝", "中大童"], ["连衣裙", "T恤", "卫衣", "外套", "套装", "睡衣", "短裤",
                                               "羽绒服"]),
    ("鞋靴", ["男士", "女士", "情侣", "儿童"], ["运动鞋", "帆布鞋", "皮鞋", "凉鞋", "拖鞋", "马丁靴", "雪地靴",
                                         "老爹鞋", "板鞋", "乐福鞋"]),
    ("箱包", ["男士", "女士", "学生", "情侣"], ["双肩包", "手提包", "斜挎包", "钱包", "行李箱", "托特包", "腰包"]),
    ("配饰", ["男士", "女士", "情侣", "儿童"], ["帽子", "围巾", "袜子", "手套", "腰带", "墨镜", "发夹", "项链"]),
    ("内衣家居", ["女士", "男士", "情侣"], ["睡衣", "内衣", "家居服", "保暖内衣", "浴袍", "内裤"]),
]
# Rare series names: characters none of the lists above use.
RARE_CHARS = "岚沐橙曦璃瑾琪萱霁澜珂琰瑶翎芮苒筠璇漪婳黛绮鸢栖棠蔚熙朔昀晞烨煦弈泠汐涣璟"
assert not set(RARE_CHARS) & set("".join(SEASONS + NEWS + STYLES + MATERIALS)
                                   + "".join(w for _, who, nouns in CATEGORIES for w in who + nouns))
COMPANIES = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "京东物流", "EMS", "极兔速递"]
HEAVY = 200


def openid(shopper: int) -> str:
    """Shopper N's openid on the OA channel: 28 characters, as WeChat's are."""
    return f"oSDbench{shopper:020d}"


def user_id(shopper: int) -> str | None:
    return f"U{shopper:08d}" if shopper % 10 < 3 else None


def unionid(shopper: int) -> str | None:
    return f"oUNbench{shopper:020d}" if shopper % 10 == 9 else None


def product_id(n: int) -> str:
    return f"P{n:07d}"


def order_number(n: int) -> str:
    return f"SD{n:010d}"


def series_names(rng: random.Random, count: int = 600) -> list[str]:
    names: set[str] = set()
    assert count <= len(RARE_CHARS) ** 2 // 2
    while len(names) < count:
        names.add(rng.choice(RARE_CHARS) + rng.choice(RARE_CHARS))
    return sorted(names)


def product(rng: random.Random, n: int, series: list[str]) -> dict:
    top, who, nouns = rng.choice(CATEGORIES)
    noun = rng.choice(nouns)
    parts = []
    if rng.random() < 0.4:
        parts.append(rng.choice(SEASONS))
    if rng.random() < 0.45:
        parts.append(rng.choice(NEWS))
    if rng.random() < 0.12:
        parts.append(rng.choice(series) + "系列")
    if rng.random() < 0.6:
        parts.append(rng.choice(who))
    parts += rng.sample(STYLES, rng.randint(1, 3))
    if rng.random() < 0.5:
        parts.append(rng.choice(MATERIALS))
    parts.append(noun)
    if rng.random() < 0.2:
        parts.append(" " + rng.choice(LATIN))
    if rng.random() < 0.15:
        parts.append(f" {rng.choice('ABCDEFGHJKLMNPQRSTWXYZ')}{rng.randint(100, 9999)}")
    title = "".join(parts)[:200]
    price = rng.choice([19, 29, 39, 49, 59, 69, 79, 89, 99, 129, 159, 199, 259, 299, 399, 599, 899]) * 100
    return {"id": product_id(n), "title": title, "price_cents": price - rng.choice([0, 0, 1, 10]),
            "category": top, "on_sale": rng.random() < 0.92}


def products(count: int, seed: int = 21) -> list[dict]:
    rng = random.Random(seed)
    series = series_names(rng)
    return [product(rng, n, series) for n in range(count)]


def popular(rng: random.Random, count: int) -> int:
    """A product index, skewed: the first tenth of the catalogue gets about half of the sales."""
    return min(count - 1, int(count * rng.random() ** 3.3))


def state_for(rng: random.Random, age_days: float) -> str:
    r = rng.random()
    if age_days < 1:
        return "unpaid" if r < 0.2 else "unshipped" if r < 0.6 else "shipped"
    if age_days < 7:
        return "unshipped" if r < 0.1 else "shipped" if r < 0.7 else "completed" if r < 0.95 else "refunding"
    return "completed" if r < 0.88 else "closed" if r < 0.96 else "refunding"


def orders(count: int, shoppers: int, catalogue: list[dict], now: datetime, seed: int = 31,
           heavy: int = HEAVY) -> Iterator[dict]:
    """COUNT orders: the first HEAVY are shopper 0's, the rest of shoppers 1…SHOPPERS-1."""
    rng = random.Random(seed)
    for n in range(count):
        shopper = 0 if n < heavy else rng.randrange(1, shoppers)
        age = rng.random() * 365
        created = now - timedelta(days=age)
        lines = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            p = catalogue[popular(rng, len(catalogue))]
            lines.append({"product_id": p["id"], "quantity": rng.choice((1, 1, 1, 1, 2, 3)),
                          "price_cents": p["price_cents"]})
        state = state_for(rng, age)
        shipped = state in ("shipped", "completed", "refunding")
        yield {"number": order_number(n), "shopper": shopper, "items": lines,
               "amount_cents": sum(i["quantity"] * i["price_cents"] for i in lines), "state": state,
               "company": rng.choice(COMPANIES) if shipped else None,
               "tracking": f"SF{rng.randrange(10**11, 10**12)}" if shipped else None,
               "created": created, "updated": created + timedelta(hours=rng.random() * min(age, 5) * 24)}


def coupons(now: datetime, count: int = 300, seed: int = 41) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        cut = rng.choice([5, 10, 20, 30, 50, 100])
        out.append({"id": f"C{n:05d}", "title": f"{rng.choice(['店铺', '新人', '会员', '品类', '节日'])}优惠券 {cut}元",
                    "value": f"¥{cut}", "condition": f"满{cut * rng.choice([5, 8, 10])}可用",
                    "valid_until": now + timedelta(days=rng.uniform(-60, 60))})
    return out


# -- COPY --------------------------------------------------------------------------------

def _ts(at: datetime) -> str:
    return at.isoformat()


def _null(value: str | None) -> str:
    return "\\N" if value is None else value


class Copier:
    """One COPY into TABLE on a connection of its own, fed in blocks of lines."""

    def __init__(self, url: str, table: str, columns: tuple[str, ...]):
        self.conn = psycopg.connect(url)
        self.conn.execute("SET session_replication_role = replica")
        self.cursor = self.conn.cursor()
        self._cm = self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
        self.copy = self._cm.__enter__()
        self.lines: list[str] = []
        self.rows = 0

    def add(self, *fields: str) -> None:
        self.lines.append("\t".join(fields))
        if len(self.lines) >= 20000:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.copy.write(("\n".join(self.lines) + "\n").encode())
            self.rows += len(self.lines)
            self.lines = []

    def close(self) -> int:
        self.flush()
        self._cm.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()
        return self.rows


def load(url: str, shop_id: int, channel_id: int, channel_key: str, n_products: int, n_orders: int,
         n_shoppers: int, now: datetime, say: Callable[[str], None]) -> dict:
    """Generate and COPY everything; returns the row counts and the seconds each part took."""
    out: dict = {}
    t0 = time.monotonic()
    catalogue = products(n_products)
    shop = str(shop_id)
    stamp = _ts(now)
    p = Copier(url, "products", ("shop_id", "product_id", "title", "price_cents", "image", "url", "category",
                                 "page_path", "on_sale", "updated_at"))
    t = Copier(url, "product_terms", ("shop_id", "term", "product_id", "on_sale"))
    for row in catalogue:
        pid = row["id"]
        p.add(shop, pid, row["title"], str(row["price_cents"]), f"https://img.example.com/{pid}.jpg",
              f"https://shop.example.com/item/{pid}", row["category"], f"pages/item/item?id={pid}",
              "t" if row["on_sale"] else "f", stamp)
        for term in sorted(title_terms(row["title"])):
            t.add(shop, term, pid, "t" if row["on_sale"] else "f")
    out["products"], out["product_terms"] = p.close(), t.close()
    out["products_seconds"] = time.monotonic() - t0
    say(f"products: {out['products']:,} rows, {out['product_terms']:,} terms in {out['products_seconds']:.0f}s")

    t0 = time.monotonic()
    o = Copier(url, "orders", ("shop_id", "number", "buyer_user_id", "buyer_unionid", "buyer_openids", "items",
                               "amount_cents", "state", "logistics_company", "tracking_number", "created_at",
                               "updated_at"))
    b = Copier(url, "order_buyers", ("shop_id", "channel_id", "openid", "order_number", "created_at"))
    ln = Copier(url, "order_lines", ("shop_id", "order_number", "line", "product_id", "quantity", "ordered_at"))
    channel = str(channel_id)
    per_shopper: dict[int, int] = {}
    for row in orders(n_orders, n_shoppers, catalogue, now):
        s = row["shopper"]
        per_shopper[s] = per_shopper.get(s, 0) + 1
        oid, created = openid(s), _ts(row["created"])
        o.add(shop, row["number"], _null(user_id(s)), _null(unionid(s)),
              json.dumps({channel_key: oid}), json.dumps(row["items"]), str(row["amount_cents"]), row["state"],
              _null(row["company"]), _null(row["tracking"]), created, _ts(row["updated"]))
        b.add(shop, channel, oid, row["number"], created)
        for n, item in enumerate(row["items"]):
            ln.add(shop, row["number"], str(n), item["product_id"], str(item["quantity"]), created)
    out["orders"], out["order_buyers"], out["order_lines"] = o.close(), b.close(), ln.close()
    out["orders_seconds"] = time.monotonic() - t0
    counts = sorted(per_shopper.values())
    out["shoppers_with_orders"] = len(counts)
    out["orders_per_shopper_median"] = counts[len(counts) // 2]
    out["orders_per_shopper_max_typical"] = max(v for k, v in per_shopper.items() if k != 0)
    out["heavy_orders"] = per_shopper.get(0, 0)
    say(f"orders: {out['orders']:,} orders, {out['order_buyers']:,} buyers, {out['order_lines']:,} lines "
        f"in {out['orders_seconds']:.0f}s")

    c = Copier(url, "coupons", ("shop_id", "coupon_id", "title", "value", "condition", "valid_until", "url",
                                "page_path", "updated_at"))
    for row in coupons(now):
        c.add(shop, row["id"], row["title"], row["value"], row["condition"], _ts(row["valid_until"]),
              f"https://shop.example.com/coupon/{row['id']}", "\\N", stamp)
    out["coupons"] = c.close()
    out["catalogue"] = catalogue
    return out


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
