// The shopper panel beside the chat, in tabs: 顾客 — channel and entry context, first and last
// seen, 拉黑 (blocks.js), the same shopper on the shop's other channels (同一顾客), the exclusive
// agent, tags (the shop's vocabulary), notes (several, by agent, timestamped), the
// conversations this shopper had with the shop (on every channel); 订单, 商品 and 优惠券 — the
// shop's data, to read and to send as cards (shop.js).

import { api } from "./api.js";
import { blockSection } from "./blocks.js";
import { el, time, shopperName, CHANNEL_WORDS } from "./dom.js";
import { ShopData } from "./shop.js";

const TABS = [["customer", "顾客"], ["orders", "订单"], ["products", "商品"], ["coupons", "优惠券"]];

export class ShopperPanel {
  constructor(root, me, { back, openConversation, sendCard }) {
    this.root = root;
    this.me = me;
    this.back = back;
    this.openConversation = openConversation;
    this.customerId = null;
    this.tab = "customer"; // the agent's choice stays from one shopper to the next
    this.shop = new ShopData({ send: sendCard, counted: (n) => this.counted(n) });
    this.customerPane = el("div", { class: "customer-pane", "data-pane": "customer" });
    this.tabs = el("nav", { class: "panel-tabs", role: "tablist", "aria-label": "顾客信息与店铺数据" },
      ...TABS.map(([key, words]) => el("button", { type: "button", role: "tab", "data-panel-tab": key,
                                                    onclick: () => this.showTab(key) },
                                       words, el("span", { class: "count" }))));
    this.root.replaceChildren(el("p", { class: "empty" }, "打开会话后在这里查看顾客信息"));
  }

  // The panel for the conversation ROW the agent opened: the shopper's facts and the shop's data.
  show(row) {
    if (!this.framed) {
      this.framed = true;
      this.root.replaceChildren(
        el("header", { class: "panel-head" },
           el("button", { type: "button", class: "back", "aria-label": "返回会话", onclick: () => this.back() }, "‹"),
           el("strong", {}, "顾客信息")),
        this.tabs, this.customerPane, ...Object.values(this.shop.panes));
      this.showTab(this.tab);
    }
    this.shop.open(row.id);
    return this.read(row);
  }

  showTab(key) {
    this.tab = key;
    for (const button of this.tabs.children) button.setAttribute("aria-selected", String(button.dataset.panelTab === key));
    for (const pane of [this.customerPane, ...Object.values(this.shop.panes)]) pane.hidden = pane.dataset.pane !== key;
  }

  counted(orders) {
    this.tabs.querySelector("[data-panel-tab=orders] .count").textContent = orders ? String(orders) : "";
  }

  canSend(enabled, why) {
    this.shop.canSend(enabled, why);
  }

  async read(row) {
    const id = row.customer.id;
    const asked = (this.asked = (this.asked || 0) + 1); // only the latest read renders: reads cross
    this.customerId = id;
    this.row = row;
    const [customer, notes, tags, history, agents] = await Promise.all([
      api("GET", `/customers/${id}`).catch(() => null),
      api("GET", `/customers/${id}/notes`).catch(() => ({ items: [] })),
      api("GET", "/tags").catch(() => ({ items: [] })),
      api("GET", `/customers/${id}/conversations`).catch(() => ({ items: [] })),
      this.me.role === "admin" ? api("GET", "/agents").catch(() => ({ items: [] })) : { items: [] },
    ]);
    if (this.customerId !== id || asked !== this.asked) return; // another opened, or read again, meanwhile
    this.agents = agents.items;
    // A refresh (another agent's change, an event) redraws the panel: what this agent is in the
    // middle of — a note typed, a tag named, an agent chosen — stays, and so does the focus.
    const same = this.rendered === id;
    const typed = same ? {
      note: this.root.querySelector("textarea[name=note]")?.value || "",
      tag: this.root.querySelector("input[name=tag]")?.value || "",
      focus: document.activeElement && this.customerPane.contains(document.activeElement) && document.activeElement.name
        ? document.activeElement.name : null,
    } : {};
    if (!same) {
      this.choice = undefined;
      this.blocking = { open: false, reason: "" }; // the 拉黑 form, open or not, across redraws
    }
    this.render(customer, notes.items, tags.items, history.items);
    this.rendered = id;
    for (const name of ["note", "tag"]) {
      const field = this.root.querySelector(`[name=${name}]`);
      if (field && typed[name]) field.value = typed[name];
    }
    if (typed.focus) this.customerPane.querySelector(`[name=${typed.focus}]`)?.focus();
  }

  refresh() {
    if (this.row) this.read(this.row);
  }

  render(customer, notes, shopTags, history) {
    const row = this.row;
    const c = customer || row.customer;
    const entry = (customer && customer.entry) || {};
    const fields = [
      ["渠道", `${CHANNEL_WORDS[row.channel.kind] || row.channel.kind}（${row.channel.key}）`],
      [row.channel.kind === "widget" ? "访客" : "openid", c.external_id],
      ["来源场景", entry.scene || "—"],
      ["菜单", entry.menu || "—"],
      ["商品", entry.product || "—"],
      ["订单", entry.order || "—"],
      ["页面", entry.page || "—"],
      ["首次访问", customer ? time(customer.first_seen_at) : "—"],
      ["最近访问", customer ? time(customer.last_seen_at) : "—"],
      ["专属客服", customer && customer.exclusive_agent ? customer.exclusive_agent.name : "未设置"],
    ];
    const own = new Set(((customer && customer.tags) || []).map((t) => t.id));
    const block = blockSection(customer, this.me, this.blocking, () => this.refresh());
    const blocked = Boolean(customer && customer.blocked);
    const several = Boolean(customer && customer.linked && customer.linked.length);
    this.customerPane.replaceChildren(
      blocked ? block : "", // a blocked shopper says so first
      el("dl", { class: "facts" }, ...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      blocked ? "" : block,
      linkedSection(customer),
      this.exclusive(customer),
      el("section", { class: "tags" }, el("h3", {}, "标签"),
         el("div", { class: "chips" }, ...shopTags.map((tag) => el("button", {
           type: "button", class: "chip", "aria-pressed": String(own.has(tag.id)), "data-tag": tag.name,
           onclick: () => this.toggleTag(tag, own.has(tag.id)) }, tag.name))),
         shopTags.length ? "" : el("p", { class: "muted" }, "店铺还没有标签（管理员可添加）"),
         this.me.role === "admin" ? this.newTagForm() : ""),
      el("section", { class: "notes" }, el("h3", {}, "备注"), this.noteForm(),
         el("ul", {}, ...notes.map((n) => el("li", { "data-note-id": String(n.id) },
           el("p", {}, n.text), el("small", {}, `${n.agent ? n.agent.name : ""} · ${time(n.created_at)}`),
           (n.agent && n.agent.username === this.me.username) || this.me.role === "admin"
             ? el("button", { type: "button", class: "link", onclick: () => this.deleteNote(n) }, "删除") : "")))),
      el("section", { class: "history" }, el("h3", {}, `历史会话（${history.length}）`),
         el("ul", {}, ...history.map((h) => el("li", {},
           el("button", { type: "button", class: "link", onclick: () => this.openConversation(h.id) },
              several && h.channel ? `${CHANNEL_WORDS[h.channel.kind] || h.channel.kind} · ` : "", // whose channel, once linked
              `${time(h.created_at)} · ${h.agent ? h.agent.name : "机器人"} · ${h.state === "ended" ? "已结束" : "进行中"}`))))),
    );
  }

  exclusive(customer) {
    if (this.me.role !== "admin" || !customer) return "";
    const current = this.choice ?? (customer.exclusive_agent ? customer.exclusive_agent.username : "");
    const choice = el("select", { name: "exclusive", "aria-label": "专属客服", onchange: () => (this.choice = choice.value) },
      el("option", { value: "" }, "不设专属客服"),
      ...this.agents.map((a) => el("option", { value: a.username, selected: a.username === current }, a.name)));
    return el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      await this.run(() => api("PUT", `/customers/${this.customerId}/exclusive-agent`, { agent: choice.value || null }),
                     () => (this.choice = undefined));
    } }, choice, el("button", { type: "submit" }, "设为专属"));
  }

  noteForm() {
    const text = el("textarea", { name: "note", rows: "2", placeholder: "添加备注（仅客服可见）", maxlength: "1000" });
    return el("form", { class: "note-form", onsubmit: async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      await this.run(() => api("POST", `/customers/${this.customerId}/notes`, { text: text.value.trim() }),
                     () => (text.value = ""));
    } }, text, el("button", { type: "submit" }, "保存备注"));
  }

  newTagForm() {
    const name = el("input", { name: "tag", placeholder: "新标签", maxlength: "20" });
    return el("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) return;
      await this.run(() => api("POST", "/tags", { name: name.value.trim() }), () => (name.value = ""));
    } }, name, el("button", { type: "submit" }, "添加"));
  }

  toggleTag(tag, has) {
    return this.run(() => api(has ? "DELETE" : "PUT", `/customers/${this.customerId}/tags/${tag.id}`));
  }

  deleteNote(note) {
    return this.run(() => api("DELETE", `/customers/${this.customerId}/notes/${note.id}`));
  }

  // CALL, then DONE (the form it came from is spent), then the panel read again.
  async run(call, done) {
    try {
      await call();
      if (done) done();
    } catch (err) {
      alert(err.message);
    }
    this.refresh();
  }
}

// 同一顾客: the shopper's ids on the shop's other channels, as the shop linked them (one person:
// the history, notes, tags and orders here are theirs on every channel).
function linkedSection(customer) {
  const linked = (customer && customer.linked) || [];
  if (!linked.length) return "";
  return el("section", { class: "linked" }, el("h3", {}, `同一顾客（${linked.length + 1} 个渠道）`),
    el("ul", {}, ...linked.map((c) => el("li", { "data-customer-id": String(c.id) },
      el("span", { class: "channel-word", title: c.channel.key }, CHANNEL_WORDS[c.channel.kind] || c.channel.kind),
      el("span", { class: "linked-id", title: c.external_id }, c.nickname ? `${shopperName(c)}（${c.external_id}）` : c.external_id),
      el("small", {}, c.last_seen_at ? `最近 ${time(c.last_seen_at)}` : "未咨询过")))));
}
