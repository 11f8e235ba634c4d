"""Media files kept by the bridge, content-addressed: a file is named by its SHA-256.

An agent's image is stored here the moment it is posted, so it outlives the request: the
delivery job uploads it to the channel later (and again, on a retry), and the agent sees it
in the conversation for as long as the message lives. The same bytes are stored once
however often they are sent. Files live under MEDIA_DIR (default: the instance folder's
`media/`), fanned out by the digest's first two byte pairs: `ab/cd/abcd…`. Every web process
and worker must see the same directory, so several hosts share it (a network mount).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from flask import Flask, current_app

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class MediaMissing(LookupError):
    """The store holds no file of that digest (never stored, or removed since)."""


class MediaStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def digest(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()

    def path(self, digest: str) -> Path:
        """Where the file of DIGEST lives; ValueError for anything but 64 lower-case hex digits."""
        if not _DIGEST.match(digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest[:80]!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, content: bytes) -> str:
        """Store CONTENT (once: the same bytes again change nothing); returns its digest."""
        digest = self.digest(content)
        path = self.path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place: a reader never sees half a file.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise MediaMissing(f"no stored media {digest}") from None

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()


def init_app(app: Flask) -> None:
    root = app.config["MEDIA_DIR"] or os.path.join(app.instance_path, "media")
    app.extensions["media_store"] = MediaStore(Path(root))


def store() -> MediaStore:
    return current_app.extensions["media_store"]
