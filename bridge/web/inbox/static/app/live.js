// The live stream (GET /api/v1/events). Every event carries an id; EventSource reconnects by
// itself and sends Last-Event-ID, so the server replays what was missed. When the server
// refuses (429/503 end an EventSource for good) a new one is opened after a pause, naming the
// last id in the query; so is one the page closed itself when the network went away. `reset` means the gap was too old: the caller reloads its lists.

// FROM: the log's position when the page was made, so what happened between the page and its
// first load of the lists is replayed (the page applies an event twice harmlessly, never none).
export function connect({ from, onEvent, onReset, onStatus }) {
  let source = null;
  let lastId = from || null;
  let retryTimer = null;
  let delay = 2000;

  const open = () => {
    const query = lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : "";
    source = new EventSource("/api/v1/events" + query, { withCredentials: true });
    source.onopen = () => {
      delay = 2000;
      onStatus(true);
    };
    source.onerror = () => {
      onStatus(false);
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      }
    };
    source.addEventListener("ready", (e) => remember(e));
    source.addEventListener("reset", (e) => {
      remember(e);
      onReset();
    });
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (e) => {
        remember(e);
        onEvent(type, JSON.parse(e.data));
      });
    }
  };
  const remember = (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
  };
  // The browser knows the network went away before the connection does (a half-open TCP
  // connection can look alive for minutes): close at once, reopen from the last id on return.
  window.addEventListener("offline", () => {
    clearTimeout(retryTimer);
    source && source.close();
    onStatus(false);
  });
  window.addEventListener("online", () => {
    clearTimeout(retryTimer);
    source && source.close();
    open();
  });
  open();
  return {
    close() {
      clearTimeout(retryTimer);
      source && source.close();
    },
  };
}

export const EVENT_TYPES = [
  "message.created", "message.updated",
  "conversation.opened", "conversation.queued", "conversation.assigned", "conversation.requeued",
  "conversation.ended", "conversation.rated", "conversation.transferred", "conversation.reassigned",
  "agent.updated", "customer.updated", "customer.typing",
];
