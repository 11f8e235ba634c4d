// Blocking a shopper (拉黑, docs/shop-data.md "Blocking"): the panel's part — 拉黑, which asks for
// the reason in a small form of its own; the 已拉黑 badge with the reason, who and when; 解除拉黑
// for admins — and the admins' 黑名单, the shop's blocked shoppers, each with 解除.

import { api } from "./api.js";
import { el, time, shopperName, CHANNEL_WORDS } from "./dom.js";

export const MAX_REASON = 200;

// The panel's block section for CUSTOMER (GET /customers/<id>). FORM: {open, reason} — whether
// the agent opened the reason form, kept across the panel's redraws. DONE: read the panel again.
export function blockSection(customer, me, form, done) {
  if (!customer) return "";
  const b = customer.blocked;
  if (b) {
    const lift = async () => {
      if (!confirm(`解除对「${shopperName(customer)}」的拉黑？`)) return;
      try {
        await api("DELETE", `/customers/${customer.id}/block`);
      } catch (err) {
        alert(err.message);
      }
      done();
    };
    return el("section", { class: "block blocked", role: "status" },
      el("div", { class: "blocked-head" }, el("span", { class: "blocked-badge" }, "已拉黑"),
         el("small", {}, `${b.by ? b.by.name : "客服"} · ${time(b.at)}`),
         me.role === "admin" ? el("button", { type: "button", class: "link", "data-action": "unblock", onclick: lift }, "解除拉黑") : ""),
      el("p", { class: "blocked-reason" }, `原因：${b.reason}`),
      el("p", { class: "blocked-note" }, "顾客的消息仍会保存，但不再分配、不自动回复"));
  }
  const section = el("section", { class: "block" });
  const redraw = () => section.replaceWith(blockSection(customer, me, form, done));
  if (!form.open) {
    section.append(el("button", { type: "button", class: "block-open", "data-action": "block",
                                  onclick: () => { form.open = true; redraw(); focusReason(); } }, "拉黑"));
    return section;
  }
  // The form's own submit is the one [data-action=block] while it is open: 拉黑, the reason, 拉黑 again.
  const reason = el("input", { name: "block-reason", required: true, maxlength: String(MAX_REASON), autocomplete: "off",
                               placeholder: "拉黑原因（必填，顾客看不到）", "aria-label": "拉黑原因",
                               oninput: () => { form.reason = reason.value; error.textContent = ""; } });
  reason.value = form.reason || "";
  const error = el("p", { class: "block-error", role: "alert" });
  const submit = el("button", { type: "submit", class: "danger", "data-action": "block" }, "确认拉黑");
  section.append(el("form", { class: "block-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const why = reason.value.trim();
    if (!why) {
      error.textContent = "请填写拉黑原因";
      return reason.focus();
    }
    submit.disabled = true;
    try {
      await api("PUT", `/customers/${customer.id}/block`, { reason: why });
      Object.assign(form, { open: false, reason: "" });
      done();
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  } }, el("p", { class: "block-label" }, "拉黑后，该顾客当前的会话将结束，之后的消息不再分配给客服。"),
     el("div", { class: "inline" }, reason, submit,
        el("button", { type: "button", onclick: () => { Object.assign(form, { open: false, reason: "" }); redraw(); } }, "取消")),
     error));
  return section;
}

function focusReason() {
  document.querySelector("#panel input[name=block-reason]")?.focus();
}

// 黑名单 (admins): the shop's blocked shoppers, the latest first, each lifted with 解除.
// UNBLOCKED(customer id) tells the page, whose panel may show that shopper.
export async function blockList(unblocked) {
  document.querySelector("dialog.blocklist")?.close();
  const rows = el("div", { class: "blocklist-rows" }, el("p", { class: "empty" }, "加载中…"));
  const dialog = el("dialog", { class: "blocklist", "aria-label": "黑名单" },
    el("h2", {}, "黑名单"), rows,
    el("form", { method: "dialog" }, el("button", { type: "submit" }, "关闭")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  const read = async () => {
    let items;
    try {
      items = (await api("GET", "/blocks")).items;
    } catch (err) {
      return rows.replaceChildren(el("p", { class: "block-error" }, `读取失败：${err.message}`));
    }
    if (!items.length) return rows.replaceChildren(el("p", { class: "empty" }, "没有被拉黑的顾客"));
    rows.replaceChildren(el("ul", {}, ...items.map((item) => {
      const c = item.customer;
      const lift = el("button", { type: "button", "data-action": "unblock", onclick: async () => {
        lift.disabled = true;
        try {
          await api("DELETE", `/customers/${c.id}/block`);
          unblocked(c.id);
        } catch (err) {
          alert(err.message);
        }
        read();
      } }, "解除");
      return el("li", { "data-customer-id": String(c.id) },
        el("div", { class: "who" },
           el("span", { class: "channel-word" }, CHANNEL_WORDS[item.channel.kind] || item.channel.kind),
           el("b", {}, shopperName(c)), c.nickname ? el("small", {}, c.external_id) : ""),
        el("p", { class: "blocked-reason" }, item.reason),
        el("small", {}, `${item.by ? item.by.name : "客服"} · ${time(item.at)}`),
        lift);
    })));
  };
  await read();
}
