"""The daily figures as a CSV file a shop opens in Excel: UTF-8 with a byte-order mark (without
it Excel reads UTF-8 as the local code page and the Chinese turns to mojibake), CRLF rows, one
row per day and per the shop (全店) or an agent."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

SHOP = "全店"
COLUMNS = (  # (heading, the row's field)
    ("日期", "date"), ("客服", None), ("会话数", "conversations"),
    ("首次响应中位数(秒)", "first_response_median"), ("首次响应P90(秒)", "first_response_p90"),
    ("回复消息数", "answered"), ("3分钟回复率", "response_rate_3min"),
    ("评价数", "ratings"), ("满意度", "satisfaction"),
    ("排队等待中位数(秒)", "queue_wait_median"), ("排队等待P90(秒)", "queue_wait_p90"),
)


def csv_text(shop_rows: Sequence[dict], agent_rows: Mapping[str, Sequence[dict]]) -> str:
    """Day by day: the shop first, then the agents by username. A figure without values (no
    ratings, nobody answered) is an empty cell, not a zero. Usernames are a-z, 0-9, _ and -
    and start with a letter or digit (checks.KEY), so no cell can start a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(heading for heading, _ in COLUMNS)
    named = sorted(agent_rows.items())
    for n, shop_row in enumerate(shop_rows):
        for who, row in [(SHOP, shop_row), *((username, rows[n]) for username, rows in named)]:
            writer.writerow(who if key is None else ("" if row[key] is None else row[key]) for _, key in COLUMNS)
    return "\ufeff" + out.getvalue()
