"""The live events' names, and what each carries.

An event is a JSON object: `type`, `conversation_id` (events about a conversation), its
`audience` ({"agents": [ids], "queue": whether the agents watching the unassigned
conversations get it, "shopper": the customer's id}; bridge/visibility.py makes it) and
what its type carries, in the shapes the agent API answers with (bridge/shapes.py), so a
client renders a change from its event alone. A Redis message is one commit's events as a
JSON list (events/publish.py); each becomes its own SSE frame, without the audience, for
whoever may see it.

- message.created, message.updated (its delivery moved: sent, failed, or a retry to come):
  `message`, as GET /conversations/<id>/messages gives it.
- conversation.*: `conversation`, as GET /conversations/<id> gives it (as committed), and
  conversation.transferred `to_agent` (username) or `to_group` (key), conversation.reassigned
  `from_agent` (username), conversation.ended `reason`, conversation.rated `score`.
- agent.updated: `agent` ({username, name, status, max_concurrent, active_conversations}).
- customer.typing: `typing` (true or false): a widget shopper is typing in the conversation, or stopped.
- customer.updated: `customer` ({id}): a note, a tag or the exclusive agent changed
  (bridge/customers/records.py); a panel showing the shopper reads GET /customers/<id> again.
"""
from __future__ import annotations

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_OPENED = "conversation.opened"
CONVERSATION_QUEUED = "conversation.queued"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_TRANSFERRED = "conversation.transferred"
CONVERSATION_REASSIGNED = "conversation.reassigned"
CONVERSATION_REQUEUED = "conversation.requeued"
CONVERSATION_ENDED = "conversation.ended"
CONVERSATION_RATED = "conversation.rated"
AGENT_UPDATED = "agent.updated"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_TYPING = "customer.typing"
