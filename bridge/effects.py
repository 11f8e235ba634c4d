"""What a service does after its commit: enqueue deliveries, publish events.

Services record effects while they work and `commit()` runs them only once the data they
refer to is committed — a job never looks for a row that is not there yet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from bridge.events import publish as events
from bridge.infra import tasks


@dataclass
class Effects:
    shop_id: int
    deliveries: list[int] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    dispatch: bool = False

    def deliver(self, message_id: int) -> None:
        self.deliveries.append(message_id)

    def publish(self, type_: str, conversation_id: int | None, audience: dict[str, Any], **data: Any) -> None:
        """An event (events/names.py) for its audience (visibility.audience), once the commit is done."""
        self.published.append({"type": type_, "conversation_id": conversation_id, "audience": audience, **data})

    def commit(self, session: Session) -> None:
        session.commit()
        self.after_commit()

    def after_commit(self) -> None:
        for message_id in self.deliveries:
            tasks.enqueue_delivery(message_id)
        if self.published:  # written, not waited for (events/publish.py)
            events.publish(current_app.extensions["events_publisher"], self.shop_id, self.published)
        if self.dispatch:
            tasks.enqueue_dispatch(self.shop_id)
