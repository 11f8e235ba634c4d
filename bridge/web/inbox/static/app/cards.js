// Shop cards — a product, coupon or order an agent (or a keyword rule) sent — as the chat shows
// them: in the form the shopper's channel showed them (media.form, which the delivery may have
// changed to a fallback), with a caption saying so, so the agent sees what the shopper got.

import { el } from "./dom.js";

export const CARD_KINDS = { product: "商品", coupon: "优惠券", order: "订单" };

// What the send of each kind carries besides its type (POST …/messages).
export const CARD_FIELDS = { product: "product_id", coupon: "coupon_id", order: "order_number" };

const FORM_WORDS = { news: "以图文消息发送", miniprogrampage: "以小程序卡片发送", link: "以链接卡片发送",
                     card: "以卡片发送", text: "以文字发送" };

// The shop's picture from its own host, or a grey square saying there is none (no URL, a
// scheme that is no picture, or a picture that does not load).
export function thumbnail(src, className = "thumb") {
  const none = () => el("span", { class: `${className} none`, "aria-hidden": "true" }, "无图");
  if (!src || !/^https?:\/\//i.test(src)) return none();
  const img = el("img", { class: className, src, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
  img.addEventListener("error", () => img.replaceWith(none()), { once: true });
  return img;
}

export function isCard(m) {
  return Boolean(CARD_KINDS[m.type] && m.media);
}

// An outreach notice sent outside WeChat's 48-hour window (type "template"): an Official
// Account template message, or a Mini Program subscribe message (it opens a page). The agent's
// words on top, then the template's fields as the shopper's notice lists them, and a caption.
export function templateBody(m) {
  const t = m.media || {};
  const fields = Object.entries(t.data || {});
  const where = t.page || t.url || "";
  return el("span", { class: "template-card", "data-template-id": t.template_id || "" },
    el("span", { class: "template-words" }, m.text || ""),
    fields.length ? el("dl", { class: "template-fields" },
                       ...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, typeof v === "object" && v ? v.value : v)]))
      : "",
    where ? el("small", { class: "template-link", title: where }, `${t.page ? "打开页面" : "链接"} ${where}`) : "",
    el("span", { class: "card-form", "data-card-form": "template" },
       t.page ? "以模板消息发送（小程序订阅消息）" : "以模板消息发送"));
}

// The bubble's content for a card message M.
export function cardBody(m) {
  const c = m.media;
  const form = c.form || "text";
  const caption = el("span", { class: "card-form", "data-card-form": form },
                     `${CARD_KINDS[m.type]} · ${FORM_WORDS[form] || `以${form}发送`}`);
  const title = c.title || m.text || CARD_KINDS[m.type];
  let shown;
  if (form === "text") { // a text with the link: the words the shopper read, line by line
    shown = el("span", { class: "card-text" }, c.text || title);
  } else if (form === "miniprogrampage") { // WeChat's page card: title over a large picture
    shown = el("span", { class: "card-box mp" }, el("span", { class: "card-app" }, "小程序"),
               el("b", {}, title), thumbnail(c.image, "card-image"));
  } else if (form === "card") { // the widget's own card: picture beside title and terms
    shown = el("span", { class: "card-box side" }, thumbnail(c.image, "card-thumb"),
               el("span", { class: "card-words" }, el("b", {}, title),
                  c.description ? el("small", {}, c.description) : ""));
  } else { // news and link: title on top, description beside the picture
    shown = el("span", { class: "card-box article" }, el("b", {}, title),
               el("span", { class: "card-row" }, el("small", {}, c.description || c.url || ""),
                  thumbnail(c.image, "card-thumb")));
  }
  const link = c.url && /^https?:\/\//i.test(c.url) && form !== "text"
    ? el("a", { class: "card-open", href: c.url, target: "_blank", rel: "noopener noreferrer" }, shown) : shown;
  return el("span", { class: "shop-card", "data-card": m.type, "data-card-id": c.id || "" }, link, caption);
}
