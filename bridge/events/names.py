"""The live events' names, and who each one is for.

An event is a JSON object: `type`, `conversation_id`, its `audience` ({"agents": [ids],
"queue": whether the agents watching the unassigned conversations get it, "shopper": the
customer's id}; bridge/visibility.py makes it) and what else its type carries. A Redis
message is one commit's events as a JSON list (events/publish.py); each becomes its own SSE
frame for whoever may see it.
"""
from __future__ import annotations

MESSAGE_CREATED = "message.created"
CONVERSATION_QUEUED = "conversation.queued"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_TRANSFERRED = "conversation.transferred"
CONVERSATION_REASSIGNED = "conversation.reassigned"
CONVERSATION_REQUEUED = "conversation.requeued"
CONVERSATION_ENDED = "conversation.ended"
CONVERSATION_RATED = "conversation.rated"
AGENT_UPDATED = "agent.updated"
