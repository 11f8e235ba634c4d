// The metrics page (admins): pick a range of days, see the shop's figures and each agent's per
// day as tables and a chart, download the same as CSV. Figures come from GET /stats/daily
// (README, Agent API, says what each one counts); the chart is SVG drawn here, no library.

import { api, ApiError } from "./api.js";
import { el } from "./dom.js";

const root = document.getElementById("metrics");
const MAX_DAYS = 92; // the API's limit: a wider range is refused there too
const QUICK = [["今天", 1], ["近7天", 7], ["近30天", 30]];
const COLUMNS = [ // [heading, field, how it reads]
  ["日期", "date", (v) => v],
  ["会话数", "conversations", (v) => String(v)],
  ["首次响应中位数", "first_response_median", duration],
  ["首次响应P90", "first_response_p90", duration],
  ["3分钟回复率", "response_rate_3min", percent],
  ["满意度", "satisfaction", percent],
  ["排队等待中位数", "queue_wait_median", duration],
  ["排队等待P90", "queue_wait_p90", duration],
];
const TITLES = { response_rate_3min: (row) => `${row.answered} 条回复`, satisfaction: (row) => `${row.ratings} 条评价` };

// -- words for figures --------------------------------------------------------------------------

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}秒`;
  if (s < 3600) return `${Math.floor(s / 60)}分${String(s % 60).padStart(2, "0")}秒`;
  return `${Math.floor(s / 3600)}小时${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}分`;
}

export function percent(share) {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`;
}

export function shiftDay(iso, days) {
  const d = new Date(iso + "T00:00:00Z"); // calendar arithmetic in UTC: no local clock change can skip a day
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

const dayCount = (from, to) => Math.round((Date.parse(to) - Date.parse(from)) / 86400000) + 1;

// -- the page ---------------------------------------------------------------------------------

const form = el("form", { class: "range", "aria-label": "日期范围" });
const fromInput = el("input", { type: "date", name: "from", required: true });
const toInput = el("input", { type: "date", name: "to", required: true });
const csvLink = el("a", { class: "csv", download: "", href: "#" }, "下载 CSV");
const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
const chartSlot = el("figure", { class: "chart" });
const shopSlot = el("section", { class: "table-slot", "aria-label": "全店" });
const agentPicker = el("select", { name: "agent", "aria-label": "客服" });
const agentSlot = el("section", { class: "table-slot", "aria-label": "客服" });
let today = root.dataset.today || new Date().toLocaleDateString("sv"); // the shop's, when the page says it
let latest = null;

form.append(
  el("label", {}, "开始 ", fromInput), el("label", {}, "结束 ", toInput),
  el("button", { type: "submit", class: "primary" }, "查询"),
  el("span", { class: "quick" }, QUICK.map(([label, days]) =>
    el("button", { type: "button", "data-days": days, onclick: () => load(shiftDay(today, 1 - days), today) }, label))),
  csvLink,
);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  load(fromInput.value, toInput.value);
});
agentPicker.addEventListener("change", () => latest && renderAgents(latest));
root.replaceChildren(
  el("header", { class: "metrics-head" }, el("h1", {}, "数据报表"), el("a", { href: root.dataset.inbox || "/inbox/" }, "返回工作台")),
  form, status, chartSlot,
  el("h2", {}, "全店"), shopSlot,
  el("div", { class: "agent-head" }, el("h2", {}, "客服"), agentPicker), agentSlot,
);

async function load(from, to) {
  if (from && to && from > to) return say("开始日期不能晚于结束日期", true);
  if (from && to && dayCount(from, to) > MAX_DAYS) return say(`最多查询 ${MAX_DAYS} 天`, true);
  const query = new URLSearchParams(Object.entries({ from, to }).filter(([, day]) => day)).toString();
  say("加载中…");
  root.setAttribute("aria-busy", "true");
  try {
    const body = await api("GET", "/stats/daily" + (query ? "?" + query : ""));
    if (!to) today = body.to; // without `to` the range ends today, in the shop's time zone
    show(body);
    say("");
  } catch (err) {
    const words = err instanceof ApiError && err.status === 403 ? "仅管理员可查看数据报表" : err.message;
    say(words, true);
  } finally {
    root.removeAttribute("aria-busy");
  }
}

function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

function show(body) {
  latest = body;
  fromInput.value = body.from;
  toInput.value = body.to;
  toInput.max = fromInput.max = today;
  const range = `?from=${body.from}&to=${body.to}`;
  csvLink.href = "/api/v1/stats/daily.csv" + range;
  history.replaceState(null, "", location.pathname + range);
  for (const button of form.querySelectorAll(".quick button")) {
    const days = Number(button.dataset.days);
    button.setAttribute("aria-pressed", String(body.to === today && body.from === shiftDay(today, 1 - days)));
  }
  chartSlot.replaceChildren(chart(body.shop), el("figcaption", {}, "全店每日会话数（柱）与3分钟回复率（线）"));
  shopSlot.replaceChildren(table(body.shop.map((row) => ["全店", row]), false));
  const chosen = agentPicker.value;
  agentPicker.replaceChildren(el("option", { value: "" }, "全部客服"),
    ...Object.keys(body.agents).map((name) => el("option", { value: name, selected: name === chosen }, name)));
  renderAgents(body);
}

function renderAgents(body) {
  const names = agentPicker.value ? [agentPicker.value] : Object.keys(body.agents);
  const rows = names.flatMap((name) => body.agents[name].map((row) => [name, row]));
  agentSlot.replaceChildren(rows.length ? table(rows, true) : el("p", { class: "empty" }, "本店没有客服"));
}

function table(rows, withAgent) {
  const head = (withAgent ? [["客服", "agent"]] : []).concat(COLUMNS);
  return el("div", { class: "table-scroll" }, el("table", { class: "figures" },
    el("thead", {}, el("tr", {}, head.map(([h, field]) => el("th", { scope: "col", "data-field": field }, h)))),
    el("tbody", {}, rows.map(([who, row]) => el("tr", { "data-agent": who, "data-date": row.date },
      withAgent ? el("th", { scope: "row" }, who) : null,
      COLUMNS.map(([, field, words]) => el("td", { "data-field": field, title: TITLES[field]?.(row) }, words(row[field]))))))));
}

// -- the chart ----------------------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
const W = 720, H = 260, PAD = { top: 16, right: 48, bottom: 34, left: 44 };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// The axis top: four grid steps of 1, 2 or 5 × a power of ten, so every label is a whole number.
export function niceMax(value) {
  const quarter = Math.max(value / 4, 1);
  const power = 10 ** Math.floor(Math.log10(quarter));
  const steps = power >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10]; // 2.5 × 1 would label 2.5
  return 4 * steps.map((m) => m * power).find((step) => step >= quarter);
}

// Daily conversations as bars on the left axis, the 3-minute rate as a line on the right one
// (0–100 %); a day nobody was answered is a gap in the line, not a zero.
export function chart(rows) {
  const inner = { w: W - PAD.left - PAD.right, h: H - PAD.top - PAD.bottom };
  const top = niceMax(Math.max(0, ...rows.map((r) => r.conversations)));
  const slot = inner.w / Math.max(rows.length, 1);
  const x = (i) => PAD.left + slot * i + slot / 2;
  const yCount = (v) => PAD.top + inner.h * (1 - v / top);
  const yRate = (v) => PAD.top + inner.h * (1 - v);
  const every = Math.ceil(rows.length / 12); // at most a dozen date labels
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => svg("g", { class: "tick" },
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: yRate(f), y2: yRate(f) }),
    svg("text", { x: PAD.left - 6, y: yRate(f) + 4, "text-anchor": "end" }, String(Math.round(top * f))),
    svg("text", { x: W - PAD.right + 6, y: yRate(f) + 4 }, `${f * 100}%`)));
  const bars = rows.map((r, i) => svg("rect", {
    class: "bar", "data-date": r.date, "data-value": r.conversations, x: x(i) - slot * 0.35, width: slot * 0.7,
    y: yCount(r.conversations), height: Math.max(0, PAD.top + inner.h - yCount(r.conversations)),
  }, svg("title", {}, `${r.date} 会话数 ${r.conversations}`)));
  let d = "", pen = "M";
  const dots = [];
  rows.forEach((r, i) => {
    if (r.response_rate_3min === null) { pen = "M"; return; }
    d += `${pen}${x(i).toFixed(1)},${yRate(r.response_rate_3min).toFixed(1)} `;
    pen = "L";
    dots.push(svg("circle", { class: "dot", "data-date": r.date, cx: x(i), cy: yRate(r.response_rate_3min), r: 3 },
      svg("title", {}, `${r.date} 3分钟回复率 ${percent(r.response_rate_3min)}（${r.answered} 条回复）`)));
  });
  const labels = rows.map((r, i) => (i % every ? null : svg("text", { class: "day", x: x(i), y: H - PAD.bottom + 16, "text-anchor": "middle" }, r.date.slice(5))));
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "全店每日会话数与3分钟回复率" },
    grid, bars, d ? svg("path", { class: "rate", d: d.trim() }) : null, dots, labels,
    svg("g", { class: "legend" },
      svg("rect", { class: "bar", x: PAD.left, y: H - 12, width: 10, height: 10 }),
      svg("text", { x: PAD.left + 14, y: H - 3 }, "会话数"),
      svg("line", { class: "rate", x1: PAD.left + 76, x2: PAD.left + 96, y1: H - 7, y2: H - 7 }),
      svg("text", { x: PAD.left + 100, y: H - 3 }, "3分钟回复率")));
}

const params = new URLSearchParams(location.search);
load(params.get("from"), params.get("to"));
