// The chat pane: who the shopper is, what can be done with the conversation now, and its
// messages as they happen — each agent, robot and system message with its delivery state
// (发送中 / 已发送 / 失败 with the reason in plain words, and a retry where one can work).

import { cardBody, isCard, templateBody } from "./cards.js";
import { el, shopperName, time } from "./dom.js";

const STATE_WORDS = { bot: "机器人接待中", queued: "排队中", active: "接待中", waiting: "留言", ended: "已结束" };

// WeChat's refusals and the bridge's own, as an agent should read them.
const REASONS = {
  45015: "顾客超过 48 小时没有发消息，微信不允许再回复；等顾客再发消息后才能回复",
  window_closed: "顾客超过 48 小时没有发消息，微信不允许再回复；等顾客再发消息后才能回复",
  45047: "这条顾客消息之后的 5 条回复已用完；等顾客再发消息后可继续回复",
  cap_reached: "这条顾客消息之后的 5 条回复已用完；等顾客再发消息后可继续回复",
  kept_for_agent: "为客服回复保留的名额，通知未发送",
  interrupted: "发送过程中断：顾客可能收到了，也可能没有；确认后可重发",
  43004: "顾客已取消关注公众号，无法发送",
  40003: "顾客的 openid 无效，无法发送",
  no_adapter: "此渠道暂不能发送消息",
};
const FINAL = new Set(["45015", "window_closed", "45047", "cap_reached", "43004", "40003", "kept_for_agent", "no_adapter"]);

export function deliveryOf(message) {
  const state = message.delivery ? message.delivery.state : null;
  if (!state) return null;
  if (state === "sent") return { attr: "sent", words: "已发送" };
  if (state === "pending" || state === "sending") {
    const error = message.delivery.error;
    return { attr: "pending", words: error ? "发送中（重试中）" : "发送中" };
  }
  const error = message.delivery.error || {};
  const code = String(error.code || "");
  const reason = REASONS[code] || (error.message ? `发送失败：${error.message}` : "发送失败");
  return { attr: "failed", words: state === "unknown" ? "可能未送达" : "失败", reason,
           retry: message.sender === "agent" && (state === "unknown" || !FINAL.has(code)) };
}

// Where the bridge's copy of a shopper's file stands: fetching | stored | unavailable (or none).
function mediaState(m) {
  return (m.media && m.media.state) || (m.media_url ? "stored" : null);
}

export class ChatPane {
  constructor(root, inbox, actions) {
    this.root = root;
    this.inbox = inbox;
    this.actions = actions; // {accept, transfer, end, invite, retry, back, showPanel}
    this.sending = new Map(); // client id → the bubble of a message not stored yet
    this.root.replaceChildren(
      (this.header = el("header", { class: "chat-head" })),
      (this.list = el("div", { class: "messages", "aria-live": "polite" })),
      (this.typingLine = el("div", { class: "typing-line", "data-shopper-typing": "", hidden: true }, "对方正在输入…")),
      (this.composerSlot = el("div", { class: "composer-slot" })),
    );
    this.typingTimer = null;
    this.typingFor = null;
    this.renderEmpty();
  }

  // A widget shopper typing (customer.typing): shown under the open conversation's messages
  // until they stop, write, or 6 s pass without another word from their widget.
  shopperTyping(conversationId, on) {
    clearTimeout(this.typingTimer);
    this.typingFor = on ? conversationId : null;
    if (on) this.typingTimer = setTimeout(() => this.shopperTyping(conversationId, false), 6000);
    this.typingLine.hidden = this.typingFor === null || this.typingFor !== this.inbox.openId;
  }

  renderEmpty() {
    this.header.replaceChildren(el("span", { class: "muted" }, "从左侧选择一个会话"));
    this.list.replaceChildren(el("p", { class: "empty" }, "没有打开的会话"));
  }

  renderHeader() {
    this.typingLine.hidden = this.typingFor === null || this.typingFor !== this.inbox.openId;
    const row = this.inbox.conversations.get(this.inbox.openId);
    if (!row) return this.renderEmpty();
    const mine = row.agent && row.agent.username === this.inbox.me.username;
    const admin = this.inbox.me.role === "admin";
    const buttons = [];
    if (["queued", "waiting", "bot"].includes(row.state)) {
      buttons.push(el("button", { type: "button", "data-action": "accept", onclick: () => this.actions.accept(row) }, "接入"));
    }
    if (row.state === "active" && (mine || admin)) {
      buttons.push(
        el("button", { type: "button", "data-action": "transfer", onclick: () => this.actions.transfer(row) }, "转接"),
        el("button", { type: "button", "data-action": "invite", onclick: () => this.actions.invite(row) }, "邀请评价"),
        el("button", { type: "button", "data-action": "end", class: "danger", onclick: () => this.actions.end(row) }, "结束"),
      );
    }
    const who = row.agent ? ` · ${row.agent.name}` : "";
    this.header.replaceChildren(
      el("button", { type: "button", class: "back", "aria-label": "返回列表", onclick: () => this.actions.back() }, "‹"),
      el("div", { class: "who" }, el("strong", {}, shopperName(row.customer)),
         el("small", {}, `${STATE_WORDS[row.state] || row.state}${who}`),
         row.rating ? el("small", { class: "rating", "data-rating-score": String(row.rating.score),
                                    title: row.rating.comment || "" },
                         `顾客评价 ${"★".repeat(row.rating.score)}${"☆".repeat(5 - row.rating.score)}`) : ""),
      el("div", { class: "actions" }, ...buttons,
         el("button", { type: "button", class: "panel-toggle", "aria-label": "顾客信息", onclick: () => this.actions.showPanel() }, "顾客")),
    );
  }

  renderMessages() {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const nodes = this.inbox.sortedMessages().map((m) => this.message(m));
    for (const m of this.inbox.sortedMessages()) if (m.client_id) this.sending.delete(m.client_id);
    const pending = [...this.sending.values()].filter((node) => node.dataset.conversationId === String(this.inbox.openId));
    this.list.replaceChildren(...(nodes.length || pending.length ? nodes : [el("p", { class: "empty" }, "还没有消息")]),
                              ...pending);
    if (atBottom || pending.length) this.list.scrollTop = this.list.scrollHeight;
  }

  message(m) {
    const from = m.sender === "customer" ? "customer" : m.sender;
    const delivery = from === "customer" ? null : deliveryOf(m);
    const attrs = { class: `msg from-${from}`, "data-message-id": String(m.id) };
    if (from !== "customer") attrs["data-delivery"] = delivery ? delivery.attr : "sent";
    if (m.delivery && m.delivery.state === "unknown") attrs["data-delivery-state"] = "unknown";
    const who = from === "agent" ? (m.agent ? m.agent.name : "客服") : from === "bot" ? "机器人" : from === "system" ? "系统通知" : "";
    return el("div", attrs,
      el("div", { class: isCard(m) ? `bubble card form-${m.media.form || "text"}` : m.type === "template" ? "bubble card template" : "bubble" },
         this.body(m)),
      el("div", { class: "meta" }, who ? `${who} · ` : "", time(m.created_at),
         delivery ? el("span", { class: `delivery ${delivery.attr}`, title: delivery.reason || "" }, " · ", delivery.words) : "",
         delivery && delivery.reason ? el("span", { class: "reason" }, delivery.reason) : "",
         delivery && delivery.retry ? el("button", { type: "button", class: "retry", onclick: () => this.actions.retry(m) }, "重试") : ""));
  }

  body(m) {
    if (isCard(m)) return cardBody(m);
    if (m.type === "template") return templateBody(m);
    if (m.type === "image") {
      const src = m.media_url;
      if (src) return el("a", { href: src, target: "_blank", rel: "noopener" }, el("img", { src, alt: "图片", loading: "lazy" }));
      return el("span", { class: "media-note", "data-media-state": mediaState(m) },
                mediaState(m) === "fetching" ? "图片加载中…" : mediaState(m) === "unavailable" ? "图片已过期，无法查看" : "[图片]");
    }
    if (m.type === "voice") {
      const heard = m.text || (m.media && m.media.recognition);
      return el("span", { class: "voice", "data-media-state": mediaState(m) },
                el("span", { class: "kind" }, "[语音] "), heard ? `识别：${heard}` : "（无识别文字）", this.playable(m, "audio", "语音"));
    }
    if (m.type === "video" || m.type === "shortvideo") {
      return el("span", { class: "video", "data-media-state": mediaState(m) },
                el("span", { class: "kind" }, "[视频] "), this.playable(m, "video", "视频"));
    }
    if (m.type === "link" && m.media && m.media.url) {
      return el("a", { href: m.media.url, target: "_blank", rel: "noopener noreferrer" }, m.text || m.media.url);
    }
    if (m.type === "miniprogrampage" && m.media) { // a Mini Program page the shopper shared
      return el("span", { class: "mp-card" }, el("span", { class: "kind" }, "小程序卡片"),
                m.media_url ? el("img", { src: m.media_url, alt: "卡片封面", loading: "lazy" }) : "",
                el("b", {}, m.media.title || m.text || "（无标题）"), el("small", {}, m.media.page_path || ""));
    }
    if (m.type === "location" && m.media) return `[位置] ${m.text || ""} (${m.media.x}, ${m.media.y})`;
    if (m.type === "event") return el("span", { class: "muted" }, `[事件] ${m.text || ""}`);
    if (m.type !== "text") return `[${m.type}] ${m.text || ""}`;
    return m.text || "";
  }

  // The shopper's stored voice or video: a player only where this browser can play the format.
  // WeChat's voice is AMR (or speex), which browsers do not play: a download link says so
  // instead of a player that would stay silent.
  playable(m, tag, words) {
    const state = mediaState(m);
    if (state === "fetching") return el("span", { class: "media-note" }, ` · ${words}加载中…`);
    if (state === "unavailable") return el("span", { class: "media-note" }, ` · ${words}文件已过期，无法播放`);
    if (!m.media_url) return "";
    const type = m.media.content_type || "";
    if (type && document.createElement(tag).canPlayType(type)) {
      return el(tag, { src: m.media_url, controls: true, preload: "none", class: `media-${tag}` });
    }
    const ext = (type.split("/")[1] || "bin").replace(/[^a-z0-9]/gi, "");
    const format = ext === "bin" ? "未知" : ext.toUpperCase();
    return [" ", el("a", { href: m.media_url, download: `${words}-${m.id}.${ext}`, class: "media-download" },
                    `下载${words}（${format} 格式，浏览器不能直接播放）`)];
  }

  // A message on its way, shown at once; replaced by the stored one (same client id).
  optimistic(clientId, text) {
    const node = el("div", { class: "msg from-agent optimistic", "data-client-id": clientId, "data-delivery": "pending",
                             "data-conversation-id": String(this.inbox.openId) },
      el("div", { class: "bubble" }, text),
      el("div", { class: "meta" }, el("span", { class: "delivery pending" }, "发送中")));
    this.sending.set(clientId, node);
    this.list.querySelector(".empty")?.remove();
    this.list.append(node);
    this.list.scrollTop = this.list.scrollHeight;
    return node;
  }

  // Stored: the bubble gives way to the stored message (rendered from the inbox's state).
  settled(clientId) {
    this.sending.get(clientId)?.remove();
    this.sending.delete(clientId);
  }

  failedToStore(clientId, reason, retry) {
    const node = this.sending.get(clientId);
    if (!node) return;
    node.dataset.delivery = "failed";
    node.querySelector(".meta").replaceChildren(el("span", { class: "delivery failed" }, "失败"),
      el("span", { class: "reason" }, reason),
      el("button", { type: "button", class: "retry", onclick: () => { this.settled(clientId); retry(); } }, "重试"));
  }
}
