"""Many open event streams read by one thread, noting when each marked message arrived.

The inbox benchmark (bench/inbox_live.py) holds 50 agents' `GET /api/v1/events` open while
shoppers write 100 times a second: thousands of frames a second reach the bench process. A
thread per stream parsing SSE would compete for the GIL with the pushes being timed, so one
thread waits on every socket at once (selectors) and only searches the raw bytes for the
pushes' markers (`bx<seq>q`, ASCII inside each pushed text), stamping the first sighting of
each per stream with time.monotonic(), the clock the pushes' answers are stamped with.

gunicorn writes each SSE frame as one HTTP chunk, so a chunk's size line never falls inside a
marker; a marker split between two reads is found by searching the previous read's tail too.
"""
from __future__ import annotations

import re
import selectors
import socket
import threading
import time

MARKER = re.compile(rb"bx(\d{7})q")
TAIL = 16  # longer than a marker


def marker(seq: int) -> str:
    return f"bx{seq:07d}q"


class Stream:
    """One open `GET /api/v1/events`: its answer's status and when each marker arrived."""

    def __init__(self, name: str, sock: socket.socket):
        self.name, self.sock = name, sock
        self.status: int | None = None
        self.ready = False  # the `ready` frame came: the stream reads the log from here on
        self.closed = False
        self.seen: dict[int, float] = {}
        self.bytes = 0
        self._head = b""
        self._tail = b""

    def feed(self, data: bytes, now: float) -> None:
        self.bytes += len(data)
        if self.status is None:
            self._head += data
            if b"\r\n\r\n" not in self._head:
                return
            head, _, data = self._head.partition(b"\r\n\r\n")
            self.status = int(head.split(b" ", 2)[1])
        text = self._tail + data
        if not self.ready and b"event: ready" in text:
            self.ready = True
        for match in MARKER.finditer(text):
            self.seen.setdefault(int(match[1]), now)
        self._tail = text[-TAIL:]


class StreamWatch:
    """Open streams with agents' tokens, read them all on one thread until `close`."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.streams: list[Stream] = []
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sse-watch", daemon=True)

    def open(self, name: str, token: str) -> Stream:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.sendall((f"GET /api/v1/events HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                      f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
        sock.setblocking(False)
        stream = Stream(name, sock)
        self.streams.append(stream)
        self._selector.register(sock, selectors.EVENT_READ, stream)
        return stream

    def start(self) -> StreamWatch:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Whether every stream answered 200 and sent its `ready` frame within TIMEOUT."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(s.ready or s.closed or (s.status or 200) != 200 for s in self.streams):
                break
            time.sleep(0.05)
        return all(s.ready and s.status == 200 for s in self.streams)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                stream: Stream = key.data
                try:
                    data = stream.sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    stream.closed = True
                    self._selector.unregister(stream.sock)
                    continue
                stream.feed(data, time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for stream in self.streams:
            stream.sock.close()
        self._selector.close()
