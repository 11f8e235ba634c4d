// The shop's data beside the chat, as Qianniu's and Feige's side panels show it: the shopper's
// orders, a product search (the shopper's recent views and the shop's best sellers while the
// box is empty) and the shop's valid coupons — each with a button that sends it as a card.
// The panes are made once and moved, never redrawn, by the panel: a search typed stays.

import { api } from "./api.js";
import { thumbnail } from "./cards.js";
import { el, time } from "./dom.js";

const SEARCH_DELAY_MS = 250; // a search per pause in typing, not per key

export class ShopData {
  constructor({ send, counted }) {
    this.send = send; // (conversation id, kind, id, title) → the stored message, or null
    this.counted = counted; // the shopper's number of orders → the tab's badge
    this.conversationId = null;
    this.enabled = false;
    this.why = "";
    this.sending = new Set(); // "conversation:kind:id" on its way: a double click sends once
    this.panes = {
      orders: el("section", { class: "shop-pane orders", "data-pane": "orders" }),
      products: el("section", { class: "shop-pane products", "data-pane": "products" }),
      coupons: el("section", { class: "shop-pane coupons", "data-pane": "coupons" }),
    };
    this.query = el("input", { type: "search", name: "product-q", placeholder: "搜索商品标题", maxlength: "64",
                               "aria-label": "搜索商品", autocomplete: "off", enterkeyhint: "search" });
    this.found = el("div", { class: "product-results" });
    this.browsing = { viewed: [], hot: [] }; // what shows while the search box is empty
    this.query.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
    });
    this.panes.products.append(this.notice(), el("form", { class: "product-search", role: "search", onsubmit: (e) => {
      e.preventDefault();
      clearTimeout(this.timer);
      this.search();
    } }, this.query), this.found);
  }

  // -- reading -----------------------------------------------------------------------------

  async open(conversationId) {
    const another = conversationId !== this.conversationId;
    const asked = (this.asked = (this.asked || 0) + 1); // only the latest open renders
    this.conversationId = conversationId;
    if (another) {
      this.query.value = "";
      this.counted(null);
      for (const pane of [this.panes.orders, this.panes.coupons]) pane.replaceChildren(loading());
      this.found.replaceChildren(loading());
    }
    // One call for the whole panel (orders, recent views, best sellers, coupons); a failure
    // shows in each list as the error it is.
    const panel = await api("GET", `/conversations/${conversationId}/shop-panel`).catch((err) => err);
    const part = (name) => (panel instanceof Error ? panel : panel[name]);
    const [orders, viewed, hot, coupons] = ["orders", "viewed", "hot", "coupons"].map(part);
    if (asked !== this.asked) return;
    this.renderOrders(orders);
    this.browsing = { viewed, hot };
    if (this.query.value.trim()) this.search();
    else this.renderBrowsing();
    this.renderCoupons(coupons);
  }

  async search() {
    const q = this.query.value.trim();
    const asked = (this.searched = (this.searched || 0) + 1); // answers may cross: the latest wins
    if (!q) return this.renderBrowsing();
    const found = await api("GET", `/products?q=${encodeURIComponent(q)}`).then((r) => r.items, (err) => err);
    if (asked !== this.searched || q !== this.query.value.trim()) return;
    this.found.replaceChildren(...this.list(`搜索结果${Array.isArray(found) ? `（${found.length}）` : ""}`, found,
      (p) => this.product(p), `没有找到与「${q}」相关的商品`));
  }

  // -- drawing -----------------------------------------------------------------------------

  renderOrders(orders) {
    this.counted(Array.isArray(orders) ? orders.length : null);
    this.panes.orders.replaceChildren(this.notice(),
      ...this.list("", orders, (o) => this.order(o), "该顾客暂无订单"));
  }

  renderBrowsing() {
    const { viewed, hot } = this.browsing;
    this.found.replaceChildren(
      ...this.list("最近浏览", viewed, (p) => this.product(p, `${time(p.viewed_at)} 看过`), "该顾客最近没有浏览商品"),
      ...this.list("热销", hot, (p) => this.product(p, `30 天售出 ${p.sold}`), "近 30 天没有售出的商品"));
  }

  renderCoupons(coupons) {
    this.panes.coupons.replaceChildren(this.notice(),
      ...this.list("", coupons, (c) => this.coupon(c), "店铺暂无可用的优惠券"));
  }

  // A titled list of ITEMS drawn by DRAW; EMPTY's words when there are none; a failed read's reason.
  list(title, items, draw, empty) {
    const head = title ? el("h3", {}, title) : "";
    if (!Array.isArray(items)) return [head, el("p", { class: "muted load-error" }, `读取失败：${items.message}`)];
    if (!items.length) return [head, el("p", { class: "empty" }, empty)];
    return [head, el("ul", { class: "shop-list" }, ...items.map(draw))];
  }

  order(o) {
    const count = o.items.reduce((n, i) => n + i.quantity, 0);
    const { company, tracking_number: tracking } = o.logistics || {};
    return el("li", { class: "order", "data-order": o.number },
      el("div", { class: "order-head" }, el("span", { class: "order-no", title: o.number }, `订单号 ${o.number}`),
         el("span", { class: "state", "data-state": o.state }, o.state_text)),
      el("ul", { class: "order-items" }, ...o.items.map((i) => el("li", {},
        thumbnail(i.image), el("span", { class: "title" }, i.title || `商品 ${i.product_id}`),
        el("span", { class: "qty" }, `¥${i.price}`, el("br"), `×${i.quantity}`)))),
      el("p", { class: "order-sum" }, `共 ${count} 件，实付 `, el("b", {}, `¥${o.amount}`)),
      company || tracking ? el("p", { class: "logistics" }, el("span", {}, "物流"),
                               el("span", { class: "tracking" }, [company, tracking].filter(Boolean).join(" "))) : "",
      el("div", { class: "order-foot" }, el("small", {}, `下单 ${time(o.created_at)}`),
         this.sendButton("order", o.number, `订单 ${o.number}`, "发送订单")));
  }

  product(p, note) {
    return el("li", { class: "product", "data-product": p.id },
      thumbnail(p.image),
      el("span", { class: "words" }, el("span", { class: "title", title: p.title }, p.title),
         el("span", { class: "line" }, el("b", { class: "price" }, `¥${p.price}`),
            p.on_sale === false ? el("span", { class: "off-sale" }, "已下架") : "",
            note ? el("small", {}, note) : "")),
      this.sendButton("product", p.id, p.title));
  }

  coupon(c) {
    return el("li", { class: "coupon", "data-coupon": c.id },
      el("span", { class: "value" }, c.value || "券"),
      el("span", { class: "words" }, el("span", { class: "title" }, c.title),
         c.condition ? el("small", {}, c.condition) : "", el("small", {}, `有效期至 ${until(c.valid_until)}`)),
      this.sendButton("coupon", c.id, c.title));
  }

  // -- sending -----------------------------------------------------------------------------

  sendButton(kind, id, title, words = "发送") {
    const button = el("button", { type: "button", class: "send-card", [`data-send-${kind}`]: id }, words);
    button.cardKey = `${kind}:${id}`;
    button.addEventListener("click", () => this.sendCard(kind, id, title));
    this.mark(button);
    return button;
  }

  async sendCard(kind, id, title) {
    const key = `${this.conversationId}:${kind}:${id}`;
    if (!this.enabled || this.sending.has(key)) return;
    this.sending.add(key);
    this.markAll();
    const conversationId = this.conversationId;
    let sent = null;
    try {
      sent = await this.send(conversationId, kind, id, title);
    } finally {
      this.sending.delete(key);
      this.markAll();
    }
    // Refused: the shop may have changed it since the panel read it (a coupon withdrawn, an
    // order gone): read the lists again rather than offer it once more.
    if (!sent && conversationId === this.conversationId) this.open(conversationId);
  }

  // Whether the agent can send here now: the composer's rule (main.js), told on every change.
  canSend(enabled, why) {
    this.enabled = enabled;
    this.why = why;
    this.markAll();
    for (const pane of Object.values(this.panes)) {
      for (const node of pane.querySelectorAll(".send-why")) {
        node.textContent = why;
        node.hidden = enabled || !why;
      }
    }
  }

  notice() {
    return el("p", { class: "send-why", hidden: this.enabled || !this.why }, this.why);
  }

  mark(button) {
    const busy = this.sending.has(`${this.conversationId}:${button.cardKey}`);
    button.disabled = !this.enabled || busy;
    button.title = this.enabled ? "" : this.why;
    button.classList.toggle("busy", busy);
  }

  markAll() {
    for (const pane of Object.values(this.panes)) pane.querySelectorAll(".send-card").forEach((b) => this.mark(b));
  }
}

function loading() {
  return el("p", { class: "empty" }, "加载中…");
}

function until(iso) {
  const d = new Date(iso);
  const hm = d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });
  const year = d.getFullYear() === new Date().getFullYear() ? "" : `${d.getFullYear()}年`;
  return `${year}${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
}
