// The agent's own quick phrases (我的短语): a dialog to write, edit and delete them. The shop's
// phrases are listed read-only beside them (they come from the shop's settings). Every change
// is saved through the API at once and the "/" picker has it without a reload (onChange).

import { api } from "./api.js";
import { el } from "./dom.js";

const MAX_TITLE = 30;
const MAX_TEXT = 1000;

export function phraseManager(phrases, onChange) {
  if (document.querySelector("dialog.phrase-manager")) return;
  let editing = null; // the own phrase the form edits, or null: the form adds one
  const list = el("ul", { class: "own-phrases" });
  const shopList = el("ul", { class: "shop-phrases" });
  const title = el("input", { name: "phrase-title", placeholder: "标题，如：尺码建议", maxlength: String(MAX_TITLE) });
  const text = el("textarea", { name: "phrase-text", rows: "3", placeholder: "短语内容", maxlength: String(MAX_TEXT) });
  const error = el("p", { class: "composer-error", role: "alert" });
  const save = el("button", { type: "submit", class: "primary" }, "添加");
  const cancel = el("button", { type: "button", hidden: true, onclick: () => edit(null) }, "取消编辑");
  const form = el("form", { class: "phrase-form", onsubmit: (e) => { e.preventDefault(); submit(); } },
    title, text, el("div", { class: "phrase-buttons" }, error, cancel, save));
  const dialog = el("dialog", { class: "phrase-manager", "aria-label": "我的快捷短语" },
    el("h2", {}, "我的快捷短语"), list, form,
    el("h3", {}, "店铺短语（管理员在店铺设置中维护）"), shopList,
    el("form", { method: "dialog" }, el("button", { type: "submit" }, "关闭")));

  function render() {
    const own = phrases.filter((p) => p.scope === "own");
    list.replaceChildren(...(own.length ? own.map((p) => el("li", { "data-phrase-id": String(p.id) },
      el("div", {}, el("b", {}, p.title), el("p", {}, p.text)),
      el("span", { class: "phrase-buttons" },
         el("button", { type: "button", class: "link", onclick: () => edit(p) }, "编辑"),
         el("button", { type: "button", class: "link danger", onclick: () => remove(p) }, "删除"))))
      : [el("li", { class: "muted" }, "还没有自己的短语：在下面写一条，在输入框里按 / 就能用")]));
    shopList.replaceChildren(...phrases.filter((p) => p.scope === "shop").map((p) =>
      el("li", {}, el("b", {}, p.title), el("p", {}, p.text))));
  }

  function edit(phrase) {
    editing = phrase;
    title.value = phrase ? phrase.title : "";
    text.value = phrase ? phrase.text : "";
    save.textContent = phrase ? "保存" : "添加";
    cancel.hidden = !phrase;
    error.textContent = "";
    title.focus();
  }

  async function submit() {
    const body = { title: title.value.trim(), text: text.value.trim() };
    if (!body.title || !body.text) {
      error.textContent = "标题和内容都要填写";
      return;
    }
    await change(() => editing ? api("PATCH", `/quick-phrases/${editing.id}`, body) : api("POST", "/quick-phrases", body));
    if (!error.textContent) edit(null);
  }

  async function remove(phrase) {
    if (!confirm(`删除快捷短语「${phrase.title}」？`)) return;
    await change(() => api("DELETE", `/quick-phrases/${phrase.id}`));
    if (editing && editing.id === phrase.id) edit(null);
  }

  async function change(call) {
    error.textContent = "";
    try {
      await call();
    } catch (err) {
      error.textContent = err.message;
    }
    phrases = await onChange();
    render();
  }

  render();
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  title.focus();
}
