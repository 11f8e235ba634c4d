// The agent's own controls (status and capacity), the transfer dialog with who has room, and
// the keyboard help.

import { api } from "./api.js";
import { el, shopperName } from "./dom.js";

const STATUSES = [["online", "在线"], ["busy", "挂起"], ["offline", "离线"]];

export class AgentBar {
  constructor(bar, me, update) {
    this.status = el("select", { name: "status", "aria-label": "我的状态",
                                 onchange: () => update({ status: this.status.value }) },
      ...STATUSES.map(([value, words]) => el("option", { value }, words)));
    this.capacity = el("input", { type: "number", name: "max_concurrent", min: "1", max: "50", "aria-label": "接待上限",
                                  onchange: () => this.capacityChanged(update) });
    this.load = el("span", { class: "load" });
    bar.prepend(el("label", { class: "pref" }, "状态 ", this.status),
                el("label", { class: "pref" }, "上限 ", this.capacity), this.load);
  }

  capacityChanged(update) {
    const value = Number(this.capacity.value);
    if (Number.isInteger(value) && value >= 1 && value <= 50) update({ max_concurrent: value });
    else this.capacity.setCustomValidity("1–50");
  }

  show(agent) {
    window.dispatchEvent(new CustomEvent("inbox:agent", { detail: agent })); // the shell's header
    this.status.value = agent.status;
    this.status.dataset.status = agent.status;
    this.capacity.value = agent.max_concurrent;
    this.capacity.setCustomValidity("");
    this.maxConcurrent = agent.max_concurrent;
    if (agent.active_conversations !== undefined) this.serving(agent.active_conversations);
  }

  // How many conversations the agent serves now: from GET/PATCH /me, then from the live lists.
  serving(count) {
    this.load.textContent = `接待中 ${count}/${this.maxConcurrent}`;
    this.load.classList.toggle("full", count >= this.maxConcurrent);
  }
}

export async function transferDialog(row, me, transfer) {
  const [agents, groups] = await Promise.all([api("GET", "/agents"), api("GET", "/groups")]);
  const room = (a) => a.max_concurrent - a.active_conversations;
  const choices = agents.items.filter((a) => a.username !== me.username);
  const dialog = el("dialog", { class: "transfer" },
    el("h2", {}, `转接「${shopperName(row.customer)}」`),
    el("h3", {}, "转给客服"),
    el("ul", {}, ...choices.map((a) => {
      const ready = a.status === "online" && a.presence !== "away" && room(a) > 0;
      return el("li", {}, el("button", { type: "button", disabled: !ready, "data-agent": a.username,
                                          onclick: () => { dialog.close(); transfer({ agent: a.username }); } },
        el("strong", {}, a.name),
        el("small", {}, a.status !== "online" ? (a.status === "busy" ? "挂起" : "离线")
          : a.presence === "away" ? "暂时离开" : room(a) > 0 ? `有空位 ${room(a)}（${a.active_conversations}/${a.max_concurrent}）` : "已满")));
    })),
    groups.items.length ? el("h3", {}, "转给分组") : "",
    el("ul", {}, ...groups.items.map((g) => el("li", {}, el("button", { type: "button", "data-group": g.key,
      onclick: () => { dialog.close(); transfer({ group: g.key }); } }, g.name)))),
    el("form", { method: "dialog" }, el("button", { type: "submit" }, "取消")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

export function helpOverlay() {
  if (document.querySelector("dialog.help")) return;
  const keys = [["Alt + ↓ / ↑", "下一个 / 上一个会话"], ["Alt + E", "结束当前会话"], ["Alt + I", "聚焦输入框"],
                ["Enter", "发送"], ["Shift + Enter", "换行"], ["/", "快捷短语（↑↓ 选择，Enter 使用）"], ["?", "显示本帮助"]];
  const dialog = el("dialog", { class: "help" }, el("h2", {}, "快捷键"),
    el("dl", {}, ...keys.flatMap(([k, v]) => [el("dt", {}, el("kbd", {}, k)), el("dd", {}, v)])),
    el("form", { method: "dialog" }, el("button", { type: "submit" }, "关闭")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
