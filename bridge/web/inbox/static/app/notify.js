// Telling the agent: a sound and a desktop notification for a new assignment, and for a
// shopper's message when the tab is hidden or another conversation is open; again every 30 s
// while one of the agent's shoppers has waited over 3 minutes, until the agent opens it; the
// unread count in the tab's title. Sound and desktop notifications can each be switched off
// (kept per agent in this browser). Browsers keep sound off until the page is clicked: a
// visible prompt says so.

import { el } from "./dom.js";

const REPEAT_MS = 30000;
const OVERDUE_SECONDS = 180;

export class Notifier {
  constructor(bar, me, title) {
    this.me = me;
    this.baseTitle = title;
    this.prefs = JSON.parse(localStorage.getItem(this.key()) || '{"sound": true, "desktop": true}');
    this.audio = null;
    this.acknowledged = new Set(); // overdue conversations the agent has looked at
    this.prompt = el("button", { type: "button", class: "sound-prompt", hidden: true,
                                 onclick: () => this.unlock() }, "提示音未开启：点击此处开启");
    this.soundBox = el("input", { type: "checkbox", checked: this.prefs.sound, onchange: () => this.set("sound", this.soundBox.checked) });
    this.desktopBox = el("input", { type: "checkbox", checked: this.prefs.desktop, onchange: () => this.set("desktop", this.desktopBox.checked) });
    bar.append(this.prompt,
      el("label", { class: "pref" }, this.soundBox, "提示音"),
      el("label", { class: "pref" }, this.desktopBox, "桌面通知"));
    document.addEventListener("pointerdown", () => this.unlock(), { once: true });
    document.addEventListener("keydown", () => this.unlock(), { once: true });
  }

  key() {
    return `kefu:notify:${this.me.shop}:${this.me.username}`;
  }

  set(name, value) {
    this.prefs[name] = value;
    localStorage.setItem(this.key(), JSON.stringify(this.prefs));
    if (name === "desktop" && value && window.Notification && Notification.permission === "default") {
      Notification.requestPermission();
    }
    if (name === "sound" && value) this.unlock();
  }

  unlock() {
    if (!this.prefs.sound) return;
    try {
      this.audio = this.audio || new AudioContext();
      this.audio.resume().then(() => (this.prompt.hidden = true));
    } catch (err) {
      this.prompt.hidden = true; // no Web Audio here: nothing to unlock
    }
  }

  beep() {
    if (!this.prefs.sound) return;
    if (!this.audio || this.audio.state !== "running") {
      this.prompt.hidden = false;
      return;
    }
    const tone = this.audio.createOscillator();
    const gain = this.audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, this.audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, this.audio.currentTime + 0.4);
    tone.connect(gain).connect(this.audio.destination);
    tone.start();
    tone.stop(this.audio.currentTime + 0.4);
  }

  desktop(title, body, onClick) {
    if (!this.prefs.desktop || !window.Notification || Notification.permission !== "granted") return;
    const note = new Notification(title, { body, tag: title });
    note.onclick = () => {
      window.focus();
      onClick();
      note.close();
    };
  }

  tell(title, body, onClick) {
    this.beep();
    this.desktop(title, body, onClick);
  }

  title(unread) {
    document.title = unread ? `(${unread}) ${this.baseTitle}` : this.baseTitle;
  }

  // Every 30 s: the agent's shoppers waiting over 3 minutes, not yet looked at, are told again.
  watch(overdueRows, onOpen) {
    setInterval(() => {
      const now = Date.now();
      const overdue = overdueRows().filter((row) => !this.acknowledged.has(`${row.id}:${row.awaiting_reply_since}`)
        && now - Date.parse(row.awaiting_reply_since) > OVERDUE_SECONDS * 1000);
      if (overdue.length) {
        this.tell(`${overdue.length} 位顾客等待超过 3 分钟`, "请尽快回复", () => onOpen(overdue[0].id));
      }
    }, REPEAT_MS);
  }

  acknowledge(row) {
    if (row && row.awaiting_reply_since) this.acknowledged.add(`${row.id}:${row.awaiting_reply_since}`);
  }
}
