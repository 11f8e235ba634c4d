"""The shoppers' side of the inbox benchmark (bench/inbox_live.py): signed OA pushes at a steady rate.

Open loop: push i is due at start + i / RATE whatever the answers before it took, sent by one of
SENDERS threads (i mod SENDERS), each on its own keep-alive connection; with answers slower than
SENDERS / RATE the threads fall behind, which `Push.sent - Push.due` shows. Each text is filler
no keyword rule can match (bench/workload.py) followed by the push's marker (bench/sse_watch.py).
"""
from __future__ import annotations

import http.client
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from bench import workload
from bench.sse_watch import marker
from tests.factories import signed, text_xml


@dataclass(frozen=True)
class Push:
    due: float  # time.monotonic(), as every stamp here
    sent: float
    answered: float  # the answer read in full (or the failure)
    status: int | None
    error: str | None = None


def push_all(host: str, port: int, channel: str, token: str, rate: float, seconds: float,
             senders: int, openids: int, seed: int = 3) -> list[Push]:
    """RATE pushes a second for SECONDS from OPENIDS shoppers, picked at random (seeded)."""
    total, rng = int(rate * seconds), random.Random(seed)
    shoppers = [rng.randrange(openids) for _ in range(total)]
    texts = [workload.filler(rng, 4, 30) + marker(i) for i in range(total)]
    results: list[Push | None] = [None] * total
    t0 = time.monotonic() + 0.5

    def sender(k: int) -> None:
        conn = None
        for i in range(k, total, senders):
            due = t0 + i / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            args, body = signed(token, text_xml(f"o-live-{shoppers[i]:05d}", texts[i]))
            sent, status, error = time.monotonic(), None, None
            try:
                conn = conn or http.client.HTTPConnection(host, port, timeout=10)
                conn.request("POST", f"/hooks/wechat-oa/{channel}?{urlencode(args)}", body,
                             {"Content-Type": "text/xml"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            results[i] = Push(due, sent, time.monotonic(), status, error)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=sender, args=(k,), name=f"sender-{k}") for k in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
