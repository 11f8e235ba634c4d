"""What kind of image a file is, judged by its first bytes (never by what the sender claims)."""
from __future__ import annotations

# (leading bytes, media type, file extension) of the image formats agents may send.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)
TYPES = sorted({media_type for _, media_type, _ in SIGNATURES})
EXTENSIONS = {media_type: extension for _, media_type, extension in SIGNATURES}


def image_type(content: bytes) -> str | None:
    """image/jpeg, image/png or image/gif by the file's signature; None for anything else."""
    for signature, media_type, _ in SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None
