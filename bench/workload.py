"""The benchmark's shop and texts, deterministic (seeded), shared by run_oa and run_matcher.

Keywords are built only from KEYWORD_CHARS (plus ASCII for a few SKU-style words) and the
filler of every text only from FILLER_CHARS, which share no character with them. So a
"miss" text can never contain a contains-keyword, equal an exact keyword or match one of
the regex rules (they all need ASCII digits/letters or keyword characters): exactly the
texts built to match do.
"""
from __future__ import annotations

import random
from typing import Any

KEYWORD_CHARS = "发货退款换尺码颜色优惠券包邮快递物流价格库存预售会员积分发票保修安装说明书赠品活动定金尾款直播"
FILLER_CHARS = "你好我想问一下这个那个吗呢吧啊哦嗯是的在不有没可以能请谢今天后天昨到了还要给看"
assert not set(KEYWORD_CHARS) & set(FILLER_CHARS)

PLAIN = {"kind": "wechat_oa", "key": "bench-oa", "app_id": "wx00000000bench0a1",
         "app_secret": "bench-secret-plain", "token": "benchtoken"}
SAFE = {"kind": "wechat_oa", "key": "bench-safe", "app_id": "wx00000000bench0a2",
        "app_secret": "bench-secret-safe", "token": "benchsafetoken",
        "encoding_aes_key": "BenchKeyBenchKeyBenchKeyBenchKeyBenchKey123"}

REGEX_TEMPLATES = [
    r"^(?:订单|单号)\s*\d{{{n},}}$",
    r"[A-Z]{{2}}\d{{{n}}}CN",
    r"sku-?{n}\d+",
    r"^\d{{{n}}}$",
    r"(?i)order\s*#?\d{{{n}}}",
]


def keywords(count: int, rng: random.Random, used: set[str]) -> list[str]:
    """COUNT distinct keywords (2–5 keyword characters, one in ten SKU-style ASCII)."""
    out: list[str] = []
    while len(out) < count:
        if rng.random() < 0.1:
            word = f"sku{rng.randrange(10**6)}"
        else:
            word = "".join(rng.choice(KEYWORD_CHARS) for _ in range(rng.randint(2, 5)))
        if word not in used:
            used.add(word)
            out.append(word)
    return out


def rules(contains: int, exact: int, regex: int, seed: int = 7) -> list[dict[str, Any]]:
    """Shop-file auto_replies: CONTAINS/EXACT rules of 1–3 keywords each, REGEX rules last."""
    rng = random.Random(seed)
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for kind, n in (("contains", contains), ("exact", exact)):
        for i in range(n):
            out.append({"keywords": keywords(rng.randint(1, 3), rng, used), "match": kind,
                        "priority": rng.randint(0, 20),
                        "reply": {"type": "text", "text": f"{kind} 规则 {i} 的自动回复"}})
    for i in range(regex):
        pattern = REGEX_TEMPLATES[i % len(REGEX_TEMPLATES)].format(n=6 + i // len(REGEX_TEMPLATES))
        out.append({"keywords": [pattern], "match": "regex", "priority": rng.randint(0, 20),
                    "reply": {"type": "text", "text": f"regex 规则 {i} 的自动回复"}})
    return out


def filler(rng: random.Random, lo: int = 4, hi: int = 30) -> str:
    return "".join(rng.choice(FILLER_CHARS) for _ in range(rng.randint(lo, hi)))


def texts(rule_list: list[dict[str, Any]], count: int, seed: int = 11) -> list[tuple[bool, str]]:
    """COUNT texts alternating hit, miss, hit, miss…: (should_match, text)."""
    rng = random.Random(seed)
    contains = [w for r in rule_list if r["match"] == "contains" for w in r["keywords"]]
    exact = [w for r in rule_list if r["match"] == "exact" for w in r["keywords"]]
    has_regex = any(r["match"] == "regex" for r in rule_list)
    out: list[tuple[bool, str]] = []
    for i in range(count):
        if i % 2:
            out.append((False, filler(rng)))
            continue
        roll = rng.random()
        if exact and roll < 0.3:
            out.append((True, rng.choice(exact)))
        elif has_regex and roll < 0.4:
            out.append((True, f"订单{rng.randrange(10**11, 10**12)}"))
        elif contains:
            out.append((True, f"{filler(rng, 2, 15)}{rng.choice(contains)}{filler(rng, 0, 15)}"))
        else:
            out.append((True, rng.choice(exact)))
    return out


def shop_document(n_contains: int = 150, n_exact: int = 130, n_regex: int = 20) -> dict[str, Any]:
    """The bench shop: a plaintext and a safe-mode OA channel and a few hundred rules."""
    return {"shops": [{
        "key": "bench", "name": "Bench Shop", "timezone": "Asia/Shanghai",
        "settings": {"routing": "least_load"},
        "channels": [dict(PLAIN), dict(SAFE)],
        "groups": [{"key": "presales", "name": "售前"}],
        "agents": [{"username": "bench", "password": "bench-password", "name": "Bench",
                    "role": "admin", "groups": ["presales"]}],
        "auto_replies": rules(n_contains, n_exact, n_regex),
    }]}
