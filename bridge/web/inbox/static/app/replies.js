// An agent's replies — a text, an image, a product, coupon or order card — from the page to the
// API, all by one path: shown at once, stored once per client id however often retried (a
// double click, an answer lost to the network), then replaced by the stored message.

import { retrying } from "./api.js";
import { CARD_FIELDS, CARD_KINDS } from "./cards.js";

export class Replies {
  constructor(chat, inbox, toast) {
    this.chat = chat;
    this.inbox = inbox;
    this.toast = toast;
  }

  text(conversationId, text, clientId = crypto.randomUUID()) {
    return this.post(conversationId, clientId, text, { type: "text", text, client_id: clientId },
                     () => this.text(conversationId, text, clientId));
  }

  image(conversationId, file, clientId = crypto.randomUUID()) {
    const form = new FormData();
    form.append("image", file);
    form.append("client_id", clientId);
    return this.post(conversationId, clientId, "[图片] " + file.name, form,
                     () => this.image(conversationId, file, clientId));
  }

  // A refused card (the coupon expired, the order is not this shopper's) stores nothing and
  // will not be stored by trying again: its reason shows and its bubble goes.
  card(conversationId, kind, id, title, clientId = crypto.randomUUID()) {
    return this.post(conversationId, clientId, `[${CARD_KINDS[kind]}] ${title}`,
                     { type: kind, [CARD_FIELDS[kind]]: id, client_id: clientId },
                     () => this.card(conversationId, kind, id, title, clientId), true);
  }

  // The stored message, or null when it was not stored (then the bubble says why, with 重试).
  async post(conversationId, clientId, shown, body, again, refusable = false) {
    this.chat.optimistic(clientId, shown);
    try {
      const message = await retrying("POST", `/conversations/${conversationId}/messages`, body);
      this.chat.settled(clientId);
      this.inbox.addMessage(message);
      return message;
    } catch (err) {
      if (refusable && err.status >= 400 && err.status < 500) {
        this.chat.settled(clientId);
        this.toast(`发送失败：${err.message}`, true);
      } else {
        this.chat.failedToStore(clientId, err.message, again);
      }
      return null;
    }
  }
}
