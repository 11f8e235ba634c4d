// Small DOM helpers: elements from a tag, attributes and children (text is always text, never
// HTML), and the words the inbox uses for times, shoppers and messages.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "hidden" || key === "disabled") node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${s}` : `${String(m).padStart(2, "0")}:${s}`;
}

export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  const hm = d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });
  return today ? hm : `${d.getMonth() + 1}月${d.getDate()}日 ${hm}`;
}

export function shopperName(customer) {
  if (!customer) return "顾客";
  return customer.nickname || `顾客 ${String(customer.external_id || customer.id).slice(-6)}`;
}

const KIND_WORDS = { image: "[图片]", voice: "[语音]", video: "[视频]", shortvideo: "[小视频]",
                     location: "[位置]", link: "[链接]", event: "[事件]", miniprogrampage: "[小程序卡片]",
                     product: "[商品]", coupon: "[优惠券]", order: "[订单]", template: "[模板消息]",
                     unknown: "[消息]" };

// What agents call a channel kind.
export const CHANNEL_WORDS = { wechat_oa: "公众号", wechat_mp: "小程序", widget: "网页" };

export function messagePreview(message) {
  if (!message) return "";
  if (message.type === "text") return message.text || "";
  return (KIND_WORDS[message.type] || "[消息]") + (message.text ? " " + message.text : "");
}
