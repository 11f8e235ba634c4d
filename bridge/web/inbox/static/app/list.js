// The conversation lists: tabs with counts, rows with the shopper's name and last message,
// the queue place and waiting time, and in 我的 the countdown from the shopper's oldest
// unanswered message (amber from 2 minutes, red from 3: the 3-minute response rate).

import { el, clock, shopperName, messagePreview, CHANNEL_WORDS } from "./dom.js";
import { TABS, waitingSince } from "./state.js";

export const AMBER_SECONDS = 120;
export const RED_SECONDS = 180;

export class ConversationList {
  constructor(root, inbox, { onOpen, onSearch }) {
    this.root = root;
    this.inbox = inbox;
    this.onOpen = onOpen;
    this.onSearch = onSearch;
    this.tab = "mine";
    this.root.replaceChildren(
      (this.tabs = el("nav", { class: "tabs", role: "tablist" })),
      (this.search = el("form", { class: "search", hidden: true })),
      (this.list = el("div", { class: "rows", role: "list" })),
    );
    this.search.append(
      el("input", { type: "search", name: "q", placeholder: "搜索昵称、openid、消息内容、备注或标签", "aria-label": "搜索历史会话" }),
      el("button", { type: "submit" }, "搜索"),
    );
    this.search.addEventListener("submit", (e) => {
      e.preventDefault();
      this.onSearch(this.search.elements.q.value.trim());
    });
    setInterval(() => this.tick(), 1000);
  }

  show(tab) {
    this.tab = tab;
    this.search.hidden = tab !== "history";
    this.render();
  }

  render() {
    this.tabs.replaceChildren(...TABS.map(({ key, title }) => {
      const count = this.inbox.count(key);
      return el("button", { type: "button", role: "tab", "data-tab": key, "aria-selected": String(key === this.tab),
                            onclick: () => this.show(key) },
                title, el("span", { class: "count" }, key === "history" && !count ? "" : String(count)));
    }));
    const rows = this.inbox.rows(this.tab);
    this.list.replaceChildren(...(rows.length ? rows.map((row) => this.row(row)) : [this.empty()]));
    this.tick();
  }

  empty() {
    const text = { queue: "没有排队的顾客", mine: "暂无接待中的会话", waiting: "没有留言",
                   history: "输入关键词搜索已结束的会话" }[this.tab];
    return el("p", { class: "empty" }, text);
  }

  row(row) {
    const unread = this.tab === "mine" && row.unanswered ? el("span", { class: "badge" }, String(row.unanswered)) : "";
    return el("button", { type: "button", class: "row", role: "listitem", "data-conversation-id": String(row.id),
                          "aria-current": String(row.id === this.inbox.openId), onclick: () => this.onOpen(row.id) },
      el("span", { class: "line" }, el("span", { class: "name" }, shopperName(row.customer)), unread,
         el("span", { class: "timer", "data-timer": "" })),
      el("span", { class: "last" }, messagePreview(row.last_message)),
      el("span", { class: "sub" }, this.subline(row)));
  }

  subline(row) {
    const channel = CHANNEL_WORDS[row.channel.kind] || row.channel.kind;
    if (this.tab === "queue" || this.tab === "waiting") {
      return row.queue_position ? `${channel} · 第 ${row.queue_position} 位` : channel;
    }
    if (this.tab === "history") {
      const who = row.agent ? row.agent.name : "机器人";
      return `${channel} · ${who} · ${(row.ended_at || "").slice(0, 16).replace("T", " ")}`;
    }
    return row.group ? `${channel} · ${row.group}` : channel;
  }

  // Timers move every second without re-rendering the rows.
  tick() {
    const now = Date.now();
    for (const node of this.list.querySelectorAll(".row")) {
      const row = this.inbox.conversations.get(Number(node.dataset.conversationId));
      const timer = node.querySelector("[data-timer]");
      if (!row || !timer) continue;
      let since = null;
      if (this.tab === "mine") since = waitingSince(row);
      else if (this.tab === "queue" || this.tab === "waiting") since = Date.parse(row.queued_at || row.created_at);
      if (!since || since === Infinity) {
        timer.textContent = "";
        timer.className = "timer";
        continue;
      }
      const seconds = Math.max(0, Math.floor((now - since) / 1000));
      timer.textContent = clock(seconds);
      timer.className = "timer" + (this.tab === "mine" && seconds >= RED_SECONDS ? " red"
        : this.tab === "mine" && seconds >= AMBER_SECONDS ? " amber" : "");
    }
  }
}
