// The inbox page: loads the lists, keeps them live, opens conversations, sends replies.
// Each part has its own module; this one wires them and holds the agent's actions.

import { api, ApiError } from "./api.js";
import { CARD_KINDS } from "./cards.js";
import { ChatPane } from "./chat.js";
import { Composer } from "./composer.js";
import { el, shopperName, messagePreview } from "./dom.js";
import { ConversationList } from "./list.js";
import { connect } from "./live.js";
import { Notifier } from "./notify.js";
import { listActions } from "./outreach.js";
import { ShopperPanel } from "./panel.js";
import { phraseManager } from "./phrases.js";
import { Replies } from "./replies.js";
import { Inbox } from "./state.js";
import { AgentBar, transferDialog, helpOverlay } from "./controls.js";

const page = JSON.parse(document.getElementById("inbox-data").textContent);
const me = { ...page.agent, shop: page.shop.key };
const inbox = new Inbox(me);
let phrases = [];

const listRoot = document.getElementById("conversation-list");
const barSlot = el("div", { class: "agent-bar" });
const listSlot = el("div", { class: "list-slot" });
listRoot.replaceChildren(barSlot, listSlot);
const banner = el("div", { class: "live-banner", role: "status", hidden: true }, "连接已断开，正在重新连接…");
document.body.prepend(banner);

const notifier = new Notifier(barSlot, me, document.title);
const agentBar = new AgentBar(barSlot, me, (patch) => updateMe(patch));
const outreached = new Set(); // conversations this agent opened by writing first: no 新顾客接入 for them
let reaching = false;
listActions(barSlot, me, {
  busy: (on) => (reaching = on),
  opened: (done) => {
    outreached.add(done.conversation_id);
    list.show("mine");
    openConversation(done.conversation_id);
    toast(done.how === "template" ? "已以模板消息通知顾客" : "已发起会话");
  },
  unblocked: (customerId) => panel.customerId === customerId && panel.refresh(),
});
const list = new ConversationList(listSlot, inbox, { onOpen: (id) => openConversation(id), onSearch: (q) => searchHistory(q) });
const chat = new ChatPane(document.getElementById("chat"), inbox, {
  accept: (row) => act(row, "accept", "已接入"),
  transfer: (row) => transferDialog(row, me, (target) => act(row, "transfer", "已转接", target)),
  end: (row) => confirm(`结束与「${shopperName(row.customer)}」的会话？`) && act(row, "end", "已结束"),
  invite: (row) => act(row, "rating-invite", "已发送评价邀请"),
  retry: (message) => retryDelivery(message),
  back: () => view("list"),
  showPanel: () => view("panel"),
});
const replies = new Replies(chat, inbox, (text, error) => toast(text, error));
const composer = new Composer(chat.composerSlot, {
  draftKey: (id) => `kefu:draft:${me.shop}:${me.username}:${id}`,
  onSend: (id, text) => replies.text(id, text),
  onImage: (id, file) => replies.image(id, file),
  phrases: () => phrases,
  onTyping: (id) => api("POST", `/conversations/${id}/typing`).catch(() => {}), // a nicety: never in the way
  managePhrases: () => phraseManager(phrases, async () => (phrases = (await api("GET", "/quick-phrases")).items)),
});
const panel = new ShopperPanel(document.getElementById("panel"), me, {
  back: () => view("chat"),
  openConversation: (id) => openConversation(id),
  sendCard: async (id, kind, key, title) => {
    const sent = await replies.card(id, kind, key, title);
    if (sent && document.body.dataset.view === "panel") toast(`已发送${CARD_KINDS[kind]}`); // a phone: the chat is out of sight
    return sent;
  },
});

inbox.onChange((what) => {
  list.render();
  if (what === "open") {
    chat.renderHeader();
    chat.renderMessages();
    attachComposer();
  } else if (what === "messages") {
    chat.renderMessages();
    chat.renderHeader();
  }
  notifier.title(inbox.unreadTotal());
  if (agentBar.maxConcurrent) agentBar.serving(inbox.servedBy(me.username));
});

// -- loading -----------------------------------------------------------------------------------

async function loadLists() {
  const get = (states) => api("GET", `/conversations?state=${states}&limit=500`).then((r) => r.items);
  const [queue, active, waiting] = await Promise.all([get("queued"), get("active"), get("waiting")]);
  inbox.replaceLists({ queue, active, waiting });
}

let queueReload = null;
function reloadQueueSoon() {
  clearTimeout(queueReload); // places change with every arrival and assignment: one GET for a burst
  queueReload = setTimeout(async () => {
    const { items } = await api("GET", "/conversations?state=queued,waiting&limit=500");
    for (const row of items) inbox.upsert(row);
  }, 300);
}

async function searchHistory(q) {
  const query = q ? `&q=${encodeURIComponent(q)}` : "";
  const { items } = await api("GET", `/conversations?state=ended&limit=50${query}`);
  inbox.setHistory(items);
}

async function openConversation(id) {
  // The composer belongs to this conversation from the click on: what the agent types while
  // it loads stays (it was wiped when the conversation arrived, or kept as another's draft).
  if (composer.conversationId !== id) composer.attach(id, { enabled: true, why: "" });
  const [detail, messages] = await Promise.all([
    api("GET", `/conversations/${id}`), api("GET", `/conversations/${id}/messages?limit=200`)]);
  inbox.upsert(detail);
  inbox.open(id, messages.items);
  composer.showWindow(detail.send_window);
  notifier.acknowledge(detail);
  panel.show(detail);
  view("chat");
}

// The shopper's WeChat window moves with every message either way (a shopper's opens it again,
// a reply spends a slot): one GET for a burst, and once a minute so the hours count down.
let windowReload = null;
function refreshWindowSoon() {
  clearTimeout(windowReload);
  windowReload = setTimeout(async () => {
    const id = inbox.openId;
    if (!id) return;
    const detail = await api("GET", `/conversations/${id}`).catch(() => null);
    if (detail && inbox.openId === id) composer.showWindow(detail.send_window);
  }, 500);
}
setInterval(refreshWindowSoon, 60000);

// The composer and the panel's card buttons send only where the agent can reply, and say why not.
function attachComposer() {
  const row = inbox.conversations.get(inbox.openId);
  if (!row) {
    panel.canSend(false, "");
    return composer.attach(null, { enabled: false, why: "" });
  }
  const mine = row.agent && row.agent.username === me.username;
  const enabled = row.state === "active" && (mine || me.role === "admin");
  const why = row.state === "active" ? "这是其他客服的会话" : row.state === "ended" ? "会话已结束"
    : "先点「接入」再回复";
  panel.canSend(enabled, why);
  if (composer.conversationId !== row.id) composer.attach(row.id, { enabled, why });
  else composer.setEnabled(enabled, why);
}

// -- acting ------------------------------------------------------------------------------------

async function act(row, verb, done, body) {
  try {
    const answer = await api("POST", `/conversations/${row.id}/${verb}`, body);
    if (answer && answer.id && answer.state) inbox.upsert(answer);
    if (verb === "accept") list.show("mine");
    toast(done);
  } catch (err) {
    toast(err.message, true);
  }
}

async function retryDelivery(message) {
  try {
    inbox.updateMessage(await api("POST", `/conversations/${message.conversation_id}/messages/${message.id}/retry`));
  } catch (err) {
    toast(err.message, true);
  }
}

async function updateMe(patch) {
  try {
    agentBar.show(await api("PATCH", "/me", patch));
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && patch.status === "offline"
        && confirm(`${err.message}\n\n仍然下线？`)) {
      return updateMe({ ...patch, force: true });
    }
    toast(err.message, true);
    agentBar.show(await api("GET", "/me"));
  }
}

// -- live --------------------------------------------------------------------------------------

function onEvent(type, event) {
  if (type === "message.created") {
    const m = event.message;
    inbox.addMessage(m);
    if (m.sender === "customer") chat.shopperTyping(m.conversation_id, false); // what they typed is here
    if (m.conversation_id === inbox.openId) refreshWindowSoon();
    const row = inbox.conversations.get(m.conversation_id);
    if (m.sender === "customer" && row && inbox.tabOf(row) === "mine"
        && (document.hidden || inbox.openId !== m.conversation_id)) {
      notifier.tell(`${shopperName(row.customer)}：`, messagePreview(m), () => openConversation(row.id));
    }
  } else if (type === "message.updated") {
    inbox.updateMessage(event.message);
    if (event.message.conversation_id === inbox.openId) refreshWindowSoon();
  } else if (type.startsWith("conversation.")) {
    const c = event.conversation;
    const before = inbox.conversations.get(c.id);
    inbox.upsert(c);
    if (panel.customerId === c.customer.id) panel.refresh(); // its history: 进行中 → 已结束, a new one
    if (!before) { // new to this page: its row (last message, unread) comes with the GET
      api("GET", `/conversations/${c.id}`).then((row) => inbox.upsert(row)).catch(() => {});
    }
    if (["queued", "waiting"].includes(c.state) || (before && ["queued", "waiting"].includes(before.state))) {
      reloadQueueSoon();
    }
    const nowMine = c.state === "active" && c.agent && c.agent.username === me.username;
    const wasMine = before && before.state === "active" && before.agent && before.agent.username === me.username;
    if (nowMine && !wasMine && !reaching && !outreached.has(c.id)) {
      notifier.tell("新顾客接入", shopperName(c.customer), () => openConversation(c.id));
    }
  } else if (type === "agent.updated" && event.agent.username === me.username) {
    agentBar.show(event.agent);
  } else if (type === "customer.updated" && panel.customerId === (event.customer || {}).id) {
    panel.refresh();
  } else if (type === "customer.typing") {
    chat.shopperTyping(event.conversation_id, event.typing);
  }
}

connect({
  from: page.events_from,
  onEvent,
  onReset: () => reloadAll(),
  onStatus: (online) => {
    banner.hidden = online;
    document.body.classList.toggle("offline", !online);
  },
});

async function reloadAll() {
  await loadLists();
  if (inbox.openId) await openConversation(inbox.openId);
}

// -- screen ------------------------------------------------------------------------------------

function view(name) {
  document.body.dataset.view = name;
  if (name === "chat") composer.focus();
}

let toastTimer = null;
function toast(text, error = false) {
  let node = document.querySelector(".toast");
  if (!node) document.body.append((node = el("div", { class: "toast", role: "status" })));
  node.textContent = text;
  node.classList.toggle("error", error);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 4000);
}

document.addEventListener("keydown", (e) => {
  const typing = ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement.tagName);
  if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
    e.preventDefault();
    const rows = inbox.rows(list.tab);
    const at = rows.findIndex((r) => r.id === inbox.openId);
    const next = rows[(at + (e.key === "ArrowDown" ? 1 : -1) + rows.length) % rows.length];
    if (next) openConversation(next.id);
  } else if (e.altKey && e.key.toLowerCase() === "e") {
    e.preventDefault();
    const row = inbox.conversations.get(inbox.openId);
    if (row && row.state === "active") chat.actions.end(row);
  } else if (e.altKey && e.key.toLowerCase() === "i") {
    e.preventDefault();
    composer.focus();
  } else if (!typing && e.key === "?") {
    helpOverlay();
  }
});
window.addEventListener("inbox:signed-out", () => window.location.assign("/inbox/"));

agentBar.show(await api("GET", "/me"));
phrases = (await api("GET", "/quick-phrases")).items;
await loadLists();
list.show(inbox.rows("mine").length || !inbox.rows("queue").length ? "mine" : "queue");
view("list");
notifier.watch(() => inbox.rows("mine").filter((r) => r.awaiting_reply_since), (id) => openConversation(id));
document.body.dataset.ready = "true";
