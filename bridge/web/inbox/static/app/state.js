// What the inbox knows: the shop's conversations as the lists show them, and the open
// conversation's messages. Changes come from GETs and from live events alike, and are
// merged by id, so an event that repeats what a GET already brought changes nothing.

export const TABS = [
  { key: "queue", title: "排队中", states: ["queued"] },
  { key: "mine", title: "我的", states: ["active"] },
  { key: "waiting", title: "留言", states: ["waiting"] },
  { key: "history", title: "历史", states: ["ended"] },
];

export class Inbox {
  constructor(me) {
    this.me = me; // {username, name, role}
    this.conversations = new Map(); // id → list row (conversation + last_message, unanswered, queue_position)
    this.history = []; // ids of the 历史 search's answer, newest first
    this.openId = null;
    this.messages = new Map(); // id → message, of the open conversation
    this.listeners = new Set();
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  changed(what) {
    for (const fn of this.listeners) fn(what);
  }

  // -- conversations -------------------------------------------------------------------------

  tabOf(row) {
    if (row.state === "queued") return "queue";
    if (row.state === "waiting") return "waiting";
    if (row.state === "active" && row.agent && row.agent.username === this.me.username) return "mine";
    return null; // the robot's, another agent's (admins see them in 历史 once ended)
  }

  rows(tab) {
    if (tab === "history") return this.history.map((id) => this.conversations.get(id)).filter(Boolean);
    const rows = [...this.conversations.values()].filter((row) => this.tabOf(row) === tab);
    if (tab === "mine") return rows.sort((a, b) => waitingSince(a) - waitingSince(b) || b.id - a.id);
    return rows.sort((a, b) => (a.queue_position || 1e9) - (b.queue_position || 1e9) || a.id - b.id);
  }

  count(tab) {
    return tab === "history" ? this.history.length : this.rows(tab).length;
  }

  unreadTotal() {
    return this.rows("mine").reduce((sum, row) => sum + (row.unanswered || 0), 0);
  }

  replaceLists(rowsByTab) {
    const keep = new Map();
    for (const rows of Object.values(rowsByTab)) {
      for (const row of rows) keep.set(row.id, fromServer(this.conversations.get(row.id), row));
    }
    if (this.openId && this.conversations.has(this.openId) && !keep.has(this.openId)) {
      keep.set(this.openId, this.conversations.get(this.openId));
    }
    for (const id of this.history) if (this.conversations.has(id)) keep.set(id, this.conversations.get(id));
    this.conversations = keep;
    this.changed("lists");
  }

  setHistory(rows) {
    for (const row of rows) this.conversations.set(row.id, fromServer(this.conversations.get(row.id), row));
    this.history = rows.map((row) => row.id);
    this.changed("lists");
  }

  servedBy(username) {
    let count = 0;
    for (const c of this.conversations.values()) if (c.state === "active" && c.agent && c.agent.username === username) count++;
    return count;
  }

  // A conversation as an event or a GET gives it: what the row knew of its messages stays.
  upsert(conversation) {
    this.conversations.set(conversation.id, fromServer(this.conversations.get(conversation.id), conversation));
    if (conversation.state === "ended" && !this.history.includes(conversation.id)) {
      this.history.unshift(conversation.id);
    }
    this.changed(conversation.id === this.openId ? "open" : "lists");
  }

  // -- messages ------------------------------------------------------------------------------

  open(id, messages) {
    this.openId = id;
    this.messages = new Map(messages.map((m) => [m.id, m]));
    this.changed("open");
  }

  // A message the bridge stored (its event or the POST's answer), once however often told:
  // counted neither twice here nor again on top of a list row that already counted it.
  addMessage(message) {
    const row = this.conversations.get(message.conversation_id);
    if (row) {
      const newer = !row.last_message || row.last_message.id <= message.id;
      if (newer) row.last_message = preview(message);
      row.heard_through = Math.max(row.heard_through || 0, message.id);
      if (!this.seen(message) && message.id > (row.counted_through || 0)) {
        if (message.sender === "customer") {
          row.unanswered = (row.unanswered || 0) + 1;
          row.awaiting_reply_since = row.awaiting_reply_since || message.created_at;
        } else if (message.sender === "agent") {
          row.unanswered = 0;
          row.awaiting_reply_since = null;
        }
      }
    }
    if (message.conversation_id === this.openId) this.messages.set(message.id, message);
    this.seenIds.add(message.id);
    this.changed(message.conversation_id === this.openId ? "messages" : "lists");
  }

  updateMessage(message) {
    if (message.conversation_id === this.openId && this.messages.has(message.id)) {
      this.messages.set(message.id, message);
      this.changed("messages");
    }
  }

  seen(message) {
    return this.seenIds.has(message.id) || this.messages.has(message.id);
  }

  get seenIds() {
    if (!this._seen) this._seen = new Set();
    return this._seen;
  }

  sortedMessages() {
    return [...this.messages.values()].sort((a, b) => a.id - b.id);
  }
}

// A conversation from the server merged into what the page knew. A list row's unread count
// and last message cover the messages up to its last_message's id (counted_through): the
// page counts only newer ones. A row older than messages the page has already heard of (the
// GET was answered before their events arrived) keeps the page's own count.
function fromServer(old = {}, fresh) {
  const merged = { ...old, ...fresh };
  if (!("unanswered" in fresh)) return merged; // an event's conversation: no message figures
  const through = fresh.last_message ? fresh.last_message.id : 0;
  if ((old.heard_through || 0) > through) {
    for (const key of ["unanswered", "last_message", "awaiting_reply_since"]) merged[key] = old[key];
  }
  merged.counted_through = Math.max(old.counted_through || 0, through);
  return merged;
}

export function waitingSince(row) {
  return row.awaiting_reply_since ? Date.parse(row.awaiting_reply_since) : Infinity;
}

export function preview(message) {
  return { id: message.id, sender: message.sender, type: message.type, text: message.text,
           created_at: message.created_at };
}
