"""Live events: their names and audiences, publishing on a shop's Redis channel, the SSE stream."""
