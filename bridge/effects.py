"""What a service does after its commit: enqueue deliveries and media fetches, publish events.

Services record effects while they work and `commit()` runs them only once the data they
refer to is committed — a job never looks for a row that is not there yet. What an event
carries of the service's rows (a conversation, a message) is read just before that commit
(events/payloads.py), so it is the state committed, not the state when the event was noted.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from bridge.events import publish as events
from bridge.infra import tasks


@dataclass
class Effects:
    shop_id: int
    deliveries: list[tuple[int, str]] = field(default_factory=list)  # (message id, sender)
    published: list[dict[str, Any]] = field(default_factory=list)
    dispatch: bool = False
    media_fetches: list[int] = field(default_factory=list)  # inbound message ids (media/fetch.py)
    filled_at_commit: list[tuple[dict[str, Any], Callable[[Session], dict[str, Any]]]] = \
        field(default_factory=list)

    def deliver(self, message_id: int, sender: str) -> None:
        """Enqueue the message's delivery after the commit; SENDER picks its queue (an agent's
        reply goes before notices, tasks.delivery_queue)."""
        self.deliveries.append((message_id, sender))

    def fetch_media(self, message_id: int) -> None:
        """Enqueue fetching the shopper's media of the message after the commit."""
        self.media_fetches.append(message_id)

    def publish(self, type_: str, conversation_id: int | None, audience: dict[str, Any],
                fill: Callable[[Session], dict[str, Any]] | None = None, **data: Any) -> None:
        """An event (events/names.py) for its audience (visibility.audience), once the commit is
        done. FILL: the rest of what it carries, read from the session at `commit`. An event
        about no conversation (an agent's) has no conversation_id."""
        event: dict[str, Any] = {"type": type_}
        if conversation_id is not None:
            event["conversation_id"] = conversation_id
        event.update(audience=audience, **data)
        self.published.append(event)
        if fill is not None:
            self.filled_at_commit.append((event, fill))

    def commit(self, session: Session) -> None:
        if self.filled_at_commit:
            session.flush()
            for event, fill in self.filled_at_commit:
                event.update(fill(session))
        session.commit()
        self.after_commit()

    def after_commit(self) -> None:
        for message_id, sender in self.deliveries:
            tasks.enqueue_delivery(message_id, sender)
        for message_id in self.media_fetches:
            tasks.enqueue_media_fetch(message_id)
        if self.published:  # written, not waited for (events/publish.py)
            events.publish(current_app.extensions["events_publisher"], self.shop_id, self.published)
        if self.dispatch:
            tasks.enqueue_dispatch(self.shop_id)
