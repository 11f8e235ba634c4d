"""An open-loop HTTP/1.1 load generator: requests go out on a fixed schedule, whatever the server does.

Request i is due at start + i/rate. Its latency is measured from that *scheduled* time, not
from when it actually went out, so a stalled server (or a stalled generator) shows up in
the percentiles instead of silently lowering the offered rate (no coordinated omission).
Keep-alive connections are reused when the server allows it (gthread); a request that
finds no idle connection opens a new one, up to MAX_CONNECTIONS.
"""
from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_CONNECTIONS = 256
TIMEOUT = 30.0
# gunicorn closes a keep-alive connection idle for --keep-alive seconds (default 2): reusing
# one that old races the server's close, so older idle connections are dropped instead.
MAX_IDLE_REUSE = 1.0


@dataclass
class Result:
    scheduled: int = 0
    completed: int = 0
    errors: int = 0
    replied: int = 0
    unanswered: int = 0
    other: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, from the scheduled time
    send_lag: list[float] = field(default_factory=list)  # generator's own lateness
    elapsed: float = 0.0
    connections: int = 0  # opened
    error_samples: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        k = min(len(data) - 1, max(0, round(p / 100 * len(data)) - 1))
        return data[k]


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.last_used = 0.0


async def _exchange(conn: _Conn, payload: bytes) -> tuple[int, bytes, bool]:
    conn.writer.write(payload)
    await conn.writer.drain()
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = None, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length is None:
        body = await conn.reader.read()
        keep = False
    else:
        body = await conn.reader.readexactly(length)
    return status, body, keep


async def _run(host: str, port: int, rate: float, seconds: float,
               make_request: Callable[[int], bytes]) -> Result:
    result = Result()
    idle: list[_Conn] = []
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    payloads = [make_request(i) for i in range(total)]  # built before the clock starts

    async def one(i: int, due: float) -> None:
        async with slots:
            conn = None
            while idle and conn is None:  # the most recently used first
                conn = idle.pop()
                if loop.time() - conn.last_used > MAX_IDLE_REUSE:
                    conn.writer.close()
                    conn = None
            try:
                if conn is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    conn = _Conn(reader, writer)
                    result.connections += 1
                result.send_lag.append(loop.time() - due)
                status, body, keep = await asyncio.wait_for(_exchange(conn, payloads[i]), TIMEOUT)
            except Exception as exc:  # noqa: BLE001 — every failure is counted, none retried
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.writer.close()
                return
            result.latencies.append(loop.time() - due)
            result.completed += 1
            if status != 200:
                result.other += 1
            elif body.startswith(b"<xml>"):
                result.replied += 1
            elif body == b"success":
                result.unanswered += 1
            else:
                result.other += 1
            if keep:
                conn.last_used = loop.time()
                idle.append(conn)
            else:
                conn.writer.close()

    tasks = []
    start = loop.time() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
        result.scheduled += 1
    await asyncio.wait(tasks, timeout=TIMEOUT + 5)
    result.elapsed = loop.time() - start
    for conn in idle:
        conn.writer.close()
    return result


def run(host: str, port: int, rate: float, seconds: float,
        make_request: Callable[[int], bytes]) -> Result:
    """Offer RATE requests/s for SECONDS; bounded: at most rate*seconds requests."""
    assert host == "127.0.0.1", "the benchmark only targets this machine"
    gc.freeze()  # no collector pause of the generator's own inside the measured latencies
    gc.disable()
    try:
        return asyncio.run(_run(host, port, rate, seconds, make_request))
    finally:
        gc.enable()


def http_post(host: str, port: int, path: str, body: bytes, content_type: str = "text/xml") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


if __name__ == "__main__":  # a quick self-check against a running server
    import sys

    h, p, path = "127.0.0.1", int(sys.argv[1]), sys.argv[2]
    started = time.time()
    r = run(h, p, 100, 2, lambda i: http_post(h, p, path, b"<xml></xml>"))
    print(r.completed, r.errors, r.percentile(50), r.percentile(99), time.time() - started)
