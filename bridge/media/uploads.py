"""A stored file as a channel media id: uploaded by the delivery job, reused while it is valid.

The upload belongs to the delivery, not to the agent's request: it is retried with the send
when the channel is busy or away, and a refusal ends the message failed with the channel's
reason. WeChat keeps a temporary upload for 3 days; the same bytes sent again on the same
channel within that time reuse its media id (kept in Redis) instead of uploading again.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from bridge import keys
from bridge.channels.contract import Adapter
from bridge.media.images import EXTENSIONS
from bridge.media.store import MediaStore

log = logging.getLogger(__name__)

MEDIA_ID_SECONDS = 3 * 86400 - 3600  # the channel's 3 days, less an hour's margin


class Channel(Protocol):
    id: int
    shop_id: int


@dataclass(frozen=True)
class MediaUploads:
    """Channel media ids of the store's files."""

    store: MediaStore
    redis: redis.Redis

    def media_id(self, adapter: Adapter, channel: Channel, media: Mapping[str, Any]) -> str:
        """CHANNEL's id for the stored file MEDIA describes, uploaded through ADAPTER if need be.

        Raises the adapter's SendFailed family (retry later, refused) and MediaMissing.
        """
        digest = media["sha256"]
        key = keys.channel_media(channel.shop_id, channel.id, digest)
        cached = self._cached(key)
        if cached:
            return cached
        content = self.store.get(digest)
        # The channel sees a name made of the digest: agents' file names are theirs to read,
        # and an extension that matches the bytes is what WeChat checks.
        name = f"{digest[:16]}.{EXTENSIONS.get(media['content_type'], 'bin')}"
        media_id = adapter.upload_image(name, content, media["content_type"])
        try:
            self.redis.set(key, media_id, ex=MEDIA_ID_SECONDS)
        except redis.RedisError as exc:  # only the reuse is lost
            log.warning("channel %s: media id of %s not kept (%s)", channel.id, digest[:12], exc)
        return media_id

    def forget(self, channel: Channel, digest: str) -> None:
        """The channel refused a send of this file: the next one uploads it afresh."""
        try:
            self.redis.delete(keys.channel_media(channel.shop_id, channel.id, digest))
        except redis.RedisError:
            pass  # it expires by itself

    def _cached(self, key: str) -> str | None:
        try:
            value = self.redis.get(key)
        except redis.RedisError:
            return None
        return value.decode() if value else None
