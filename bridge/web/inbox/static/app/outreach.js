// 主动发起会话 (docs/shop-data.md "Outreach"): the agent finds a shopper by order number or nickname,
// sees on each of their channels how they can be reached now — 客服消息 inside WeChat's 48-hour
// window (the web widget at any time), 模板消息 outside it — or why not, writes, and the new
// conversation opens in the chat. The list's bar carries the button, and 黑名单 for admins.

import { api } from "./api.js";
import { blockList } from "./blocks.js";
import { el, time, CHANNEL_WORDS } from "./dom.js";

const HOW_WORDS = { message: "客服消息", template: "模板消息" };
// The rules the server names (409 and a candidate's refused.code), as an agent reads them.
export const REFUSALS = {
  blocked: "顾客已被拉黑",
  not_recent: "30 天内没有咨询或下单，不能主动联系",
  window_closed: "超过 48 小时未发消息，且此渠道没有设置模板消息",
  no_consent: "超过 48 小时未发消息，且顾客没有订阅小程序消息",
  taken: "其他客服正在接待该顾客",
  full: "你的接待已满，请先结束一个会话",
  busy: "顾客刚刚发来消息，请在会话列表中接待",
};
const SEARCH_DELAY_MS = 300;
const MAX_TEXT = 2000;

// The bar's buttons: 发起会话; 黑名单 for admins. HANDLERS: {opened(answer), busy(on), unblocked(id)}.
export function listActions(bar, me, handlers) {
  bar.append(el("span", { class: "bar-actions" },
    el("button", { type: "button", "data-action": "outreach", onclick: () => outreachDialog(handlers) }, "发起会话"),
    me.role === "admin"
      ? el("button", { type: "button", "data-action": "blocklist", onclick: () => blockList(handlers.unblocked) }, "黑名单")
      : ""));
}

export function outreachDialog({ opened, busy }) {
  if (document.querySelector("dialog.outreach")) return;
  let chosen = null; // the candidate the agent picked
  let sending = false;
  let timer = null;
  let asked = 0; // only the latest search's answer is drawn
  const q = el("input", { type: "search", name: "outreach-q", placeholder: "订单号或顾客昵称", maxlength: "64",
                          autocomplete: "off", enterkeyhint: "search", "aria-label": "订单号或顾客昵称" });
  const results = el("div", { class: "outreach-results", "aria-live": "polite" },
                     el("p", { class: "muted" }, "按订单号或昵称查找 30 天内咨询或下单的顾客"));
  const text = el("textarea", { name: "outreach-text", rows: "3", maxlength: String(MAX_TEXT), "aria-label": "发送内容",
                                placeholder: "要对顾客说的话（Ctrl+Enter 发送）" });
  const note = el("p", { class: "outreach-note", hidden: true });
  const error = el("p", { class: "outreach-error", role: "alert" });
  const send = el("button", { type: "submit", class: "primary", "data-action": "outreach-send" }, "发送");
  const form = el("form", { class: "outreach-send" }, text, note, error,
    el("div", { class: "dialog-buttons" }, el("button", { type: "button", onclick: () => dialog.close() }, "取消"), send));
  const dialog = el("dialog", { class: "outreach", "aria-label": "发起会话" }, el("h2", {}, "发起会话"),
    el("form", { class: "outreach-search", role: "search", onsubmit: (e) => {
      e.preventDefault();
      clearTimeout(timer);
      search();
    } }, q, el("button", { type: "submit" }, "查找")),
    results, form);

  async function search() {
    const query = q.value.trim();
    const mine = ++asked;
    if (!query) {
      chosen = null;
      return draw(null);
    }
    let items;
    try {
      items = (await api("GET", `/outreach/candidates?q=${encodeURIComponent(query)}`)).items;
    } catch (err) {
      items = err;
    }
    if (mine !== asked) return;
    if (!Array.isArray(items)) return results.replaceChildren(el("p", { class: "outreach-error" }, `查找失败：${items.message}`));
    const reachable = items.filter((item) => item.how);
    chosen = reachable.find((item) => chosen && item.customer.id === chosen.customer.id)
      || (reachable.length === 1 ? reachable[0] : null);
    draw(items, query);
  }

  function draw(items, query) {
    if (!items) return results.replaceChildren(el("p", { class: "muted" }, "按订单号或昵称查找 30 天内咨询或下单的顾客"));
    if (!items.length) {
      results.replaceChildren(el("p", { class: "empty" }, `没有找到「${query}」：请输入完整的订单号，或昵称的一部分`));
    } else {
      results.replaceChildren(el("ul", {}, ...items.map((item) => candidate(item))));
    }
    explain();
  }

  function candidate(item) {
    const c = item.customer;
    const refused = item.refused || {};
    const name = c.nickname || c.external_id;
    return el("li", {}, el("button", {
      type: "button", class: "candidate", "data-customer-id": String(c.id), disabled: !item.how,
      "aria-pressed": String(Boolean(chosen && chosen.customer.id === c.id)),
      onclick: () => {
        chosen = item;
        for (const b of results.querySelectorAll(".candidate")) b.setAttribute("aria-pressed", String(b.dataset.customerId === String(c.id)));
        explain();
        text.focus();
      } },
      el("span", { class: "channel-word", title: item.channel.key }, CHANNEL_WORDS[item.channel.kind] || item.channel.kind),
      el("b", { class: "name", title: c.external_id }, name),
      item.how ? el("span", { class: "how", "data-how": item.how }, HOW_WORDS[item.how] || item.how)
        : el("span", { class: "how", "data-how": "none" }, "不可发起"),
      el("small", { class: "seen" }, item.last_seen_at ? `最近咨询 ${time(item.last_seen_at)}` : "未咨询过（下单顾客）",
         item.how ? "" : el("span", { class: "refused", "data-refused": refused.code || "", title: refused.message || "" },
                            ` · ${REFUSALS[refused.code] || refused.message || "不能联系"}`))));
  }

  // What the send will do, under the words: the picked shopper and the way it reaches them.
  function explain() {
    if (!chosen) {
      note.hidden = true;
      return;
    }
    const widget = chosen.channel.kind === "widget";
    note.hidden = false;
    note.dataset.how = chosen.how;
    note.textContent = chosen.how === "template"
      ? "顾客超过 48 小时未发消息：将以模板消息通知，顾客点开后回到会话"
      : widget ? "将以网页消息发送：顾客下次打开店铺页面时看到" : "将以客服消息发送，会话随即开始";
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (sending) return; // a double click sends once
    const words = text.value.trim();
    if (!chosen) return void (error.textContent = "请先查找并选择一位顾客");
    if (!words) {
      error.textContent = "请填写要发送的内容";
      return text.focus();
    }
    sending = true;
    send.disabled = true;
    error.textContent = "";
    busy(true);
    try {
      const done = await api("POST", "/outreach", { customer_id: chosen.customer.id, text: words });
      dialog.close();
      opened(done);
    } catch (err) {
      error.replaceChildren(err.status === 409 ? `无法发起会话：${REFUSALS[err.code] || err.message}` : `发送失败：${err.message}`,
                            err.status === 409 && REFUSALS[err.code] ? el("small", {}, err.message) : "");
      if (err.status === 409) search(); // the shopper's state changed: show it
    } finally {
      sending = false;
      send.disabled = false;
      busy(false);
    }
  });
  text.addEventListener("input", () => (error.textContent = ""));
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, SEARCH_DELAY_MS);
  });
  dialog.addEventListener("close", () => {
    clearTimeout(timer);
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  q.focus();
}

