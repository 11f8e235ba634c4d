// The composer: Enter sends, Shift+Enter breaks the line, "/" opens the quick phrases; a draft
// is kept per conversation (in this browser, surviving a reload) and never shows elsewhere;
// images are size-checked before upload; the shopper's WeChat window and quota are shown; while
// the agent types, the shopper is shown so (bridge/typing_indicator.py decides when).

import { el } from "./dom.js";

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
const TYPING_MS = 5000; // WeChat shows "正在输入" for 15 s; the bridge asks again at most after this
const EMOJI = ["😊", "😀", "😂", "🙏", "👍", "👌", "❤️", "🌹", "🎉", "🤝", "💪", "😘", "🥰", "😅", "🙂", "👏"];

export class Composer {
  constructor(slot, { draftKey, onSend, onImage, phrases, managePhrases, onTyping }) {
    this.onTyping = onTyping; // conversation id → tell the shopper the agent types (at most every TYPING_MS)
    this.typedAt = 0;
    this.draftKey = draftKey; // conversation id → storage key
    this.onSend = onSend;
    this.onImage = onImage;
    this.phrases = phrases; // () → [{title, text, scope}]
    this.conversationId = null;
    this.text = el("textarea", { name: "text", rows: "3", placeholder: "输入消息，Enter 发送，Shift+Enter 换行，/ 快捷短语",
                                 "aria-label": "回复内容", autocomplete: "off" });
    this.file = el("input", { type: "file", accept: "image/png,image/jpeg,image/gif", hidden: true });
    this.window = el("span", { class: "window", "data-send-window": "" });
    this.error = el("span", { class: "composer-error", role: "alert" });
    this.popup = el("ul", { class: "phrases", role: "listbox", hidden: true });
    this.emoji = el("div", { class: "emoji", hidden: true },
      ...EMOJI.map((e) => el("button", { type: "button", onclick: () => this.insert(e) }, e)));
    this.send = el("button", { type: "submit", class: "send" }, "发送");
    this.form = el("form", { class: "composer" },
      this.popup, this.emoji,
      el("div", { class: "tools" },
         el("button", { type: "button", "aria-label": "表情", onclick: () => (this.emoji.hidden = !this.emoji.hidden) }, "😊"),
         el("button", { type: "button", "aria-label": "发送图片", onclick: () => this.file.click() }, "图片"),
         el("button", { type: "button", "aria-label": "快捷短语", onclick: () => this.openPhrases("") }, "短语"),
         el("button", { type: "button", "aria-label": "管理我的快捷短语", onclick: () => managePhrases() }, "管理短语"),
         this.window, this.error),
      this.text,
      el("div", { class: "send-row" }, this.file, this.send));
    slot.replaceChildren(this.form);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.text.addEventListener("keydown", (e) => this.keydown(e));
    this.text.addEventListener("input", () => this.changed());
    this.file.addEventListener("change", () => this.pickImage());
    this.setEnabled(false, "");
  }

  // -- which conversation ----------------------------------------------------------------------

  attach(conversationId, { enabled, why }) {
    this.saveDraft();
    this.conversationId = conversationId;
    this.text.value = (conversationId && localStorage.getItem(this.draftKey(conversationId))) || "";
    this.closePhrases();
    this.error.textContent = "";
    this.setEnabled(enabled, why);
  }

  setEnabled(enabled, why) {
    this.text.disabled = !enabled;
    this.send.disabled = !enabled;
    this.text.placeholder = enabled ? "输入消息，Enter 发送，Shift+Enter 换行，/ 快捷短语" : why || "";
  }

  showWindow(window) {
    if (!window) {
      this.window.textContent = "";
      return;
    }
    if (!window.open) {
      this.window.textContent = "已超过 48 小时，等顾客再发消息后才能回复";
      this.window.className = "window closed";
      return;
    }
    const hours = Math.max(0, Math.floor((Date.parse(window.closes_at) - Date.now()) / 3600000));
    this.window.textContent = `还可发 ${window.sends_left} 条 · ${hours} 小时内`;
    this.window.className = "window" + (window.sends_left <= 1 ? " low" : "");
  }

  saveDraft() {
    if (!this.conversationId) return;
    const key = this.draftKey(this.conversationId);
    if (this.text.value) localStorage.setItem(key, this.text.value);
    else localStorage.removeItem(key);
  }

  changed() {
    this.saveDraft();
    const value = this.text.value;
    if (value.trim() && !value.startsWith("/") && this.conversationId && Date.now() - this.typedAt > TYPING_MS) {
      this.typedAt = Date.now();
      this.onTyping(this.conversationId);
    }
    if (value.startsWith("/") && !value.includes("\n")) this.openPhrases(value.slice(1));
    else this.closePhrases();
  }

  focus() {
    this.text.focus();
  }

  insert(text) {
    const { selectionStart: a, selectionEnd: b, value } = this.text;
    this.text.value = value.slice(0, a) + text + value.slice(b);
    this.text.selectionStart = this.text.selectionEnd = a + text.length;
    this.emoji.hidden = true;
    this.saveDraft();
    this.text.focus();
  }

  // -- sending -----------------------------------------------------------------------------

  keydown(e) {
    if (!this.popup.hidden && ["ArrowDown", "ArrowUp", "Enter", "Tab", "Escape"].includes(e.key)) {
      e.preventDefault();
      if (e.key === "Escape") return this.closePhrases();
      if (e.key === "Enter" || e.key === "Tab") return this.choosePhrase();
      return this.movePhrase(e.key === "ArrowDown" ? 1 : -1);
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      this.submit();
    }
  }

  submit() {
    const text = this.text.value.trim();
    if (!text || this.text.disabled || !this.conversationId) return;
    this.typedAt = 0; // the reply ends the indicator: the next keystrokes show it again
    this.text.value = "";
    this.saveDraft();
    this.onSend(this.conversationId, text);
  }

  pickImage() {
    const file = this.file.files[0];
    this.file.value = "";
    if (!file || !this.conversationId) return;
    if (!file.type.startsWith("image/")) {
      this.error.textContent = "只能发送图片（JPG、PNG、GIF）";
    } else if (file.size > MAX_IMAGE_BYTES) {
      this.error.textContent = `图片太大（${(file.size / 1048576).toFixed(1)} MB），最大 10 MB`;
    } else {
      this.error.textContent = "";
      this.onImage(this.conversationId, file);
    }
  }

  // -- quick phrases: "/" then a few letters, arrows and Enter --------------------------------

  openPhrases(query) {
    const matches = fuzzy(this.phrases(), query).slice(0, 8);
    if (!matches.length) return this.closePhrases();
    this.popup.replaceChildren(...matches.map((p, i) =>
      el("li", { role: "option", "aria-selected": String(i === 0), "data-text": p.text,
                 onmousedown: (e) => { e.preventDefault(); this.choosePhrase(i); } },
         el("b", {}, p.title), el("span", {}, p.text), el("small", {}, p.scope === "own" ? "我的" : "店铺"))));
    this.popup.hidden = false;
  }

  closePhrases() {
    this.popup.hidden = true;
  }

  movePhrase(step) {
    const items = [...this.popup.children];
    const at = items.findIndex((li) => li.getAttribute("aria-selected") === "true");
    const next = (at + step + items.length) % items.length;
    items.forEach((li, i) => li.setAttribute("aria-selected", String(i === next)));
  }

  choosePhrase(index) {
    const items = [...this.popup.children];
    const li = index !== undefined ? items[index] : items.find((x) => x.getAttribute("aria-selected") === "true");
    if (!li) return;
    this.text.value = li.dataset.text;
    this.closePhrases();
    this.saveDraft();
    this.text.focus();
  }
}

// Phrases whose title or text holds the query, or its characters in order ("发货" finds
// "已发出的货"), best matches first; a title match counts a little more.
export function fuzzy(phrases, query) {
  const q = query.trim().toLowerCase();
  if (!q) return phrases;
  const score = (text) => {
    text = text.toLowerCase();
    const at = text.indexOf(q);
    if (at >= 0) return 1000 - at;
    let i = 0;
    for (const ch of text) if (ch === q[i]) i++;
    return i === q.length ? 100 - text.length / 100 : -1;
  };
  const titled = (title) => { const s = score(title); return s < 0 ? s : s + 10; };
  return phrases.map((p) => [Math.max(titled(p.title), score(p.text)), p])
    .filter(([s]) => s >= 0).sort((a, b) => b[0] - a[0]).map(([, p]) => p);
}
