// The demo shopper's WeChat: shows what the phone received (polled), writes as the shopper.
(function () {
  "use strict";
  var phone = document.getElementById("phone");
  var chat = document.getElementById("chat");
  var errorBox = document.getElementById("error");
  var last = 0;
  var VIA = { passive: "被动回复", custom: "客服消息", error: "商家服务器出错" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function body(msg) {
    var t = msg.msgtype, p = msg[t] || {};
    if (t === "text") return el("div", "bubble", p.content);
    if (t === "image") {
      var b = el("div", "bubble"), img = el("img");
      img.src = phone.dataset.media + encodeURIComponent(p.media_id);
      img.alt = "图片";
      b.appendChild(img);
      return b;
    }
    if (t === "news") {
      var a = (p.articles || [])[0] || {}, card = el("a", "card");
      card.href = a.url || "#";
      card.target = "_blank";
      card.rel = "noopener";
      card.appendChild(el("b", null, a.title));
      card.appendChild(el("small", null, a.description || a.url));
      return card;
    }
    if (t === "link" || t === "miniprogrampage") { // a Mini Program's cards
      var c = el(t === "link" ? "a" : "div", "card");
      if (t === "link") { c.href = p.url || "#"; c.target = "_blank"; c.rel = "noopener"; }
      c.appendChild(el("b", null, p.title));
      c.appendChild(el("small", null, t === "link" ? (p.description || p.url) : "小程序页面 " + p.pagepath));
      return c;
    }
    if (t === "template") { // an outreach notice: an OA template message, a Mini Program subscribe message
      var n = el(msg.url ? "a" : "div", "card");
      if (msg.url) { n.href = msg.url; n.target = "_blank"; n.rel = "noopener"; }
      n.appendChild(el("b", null, msg.page ? "订阅消息" : "模板消息"));
      Object.keys(msg.data || {}).forEach(function (k) { n.appendChild(el("small", null, msg.data[k].value)); });
      return n;
    }
    if (t === "msgmenu") {
      var m = el("div", "bubble", (p.head_content || "") + "\n");
      (p.list || []).forEach(function (item) { m.appendChild(el("div", null, "› " + item.content)); });
      if (p.tail_content) m.appendChild(el("div", null, p.tail_content));
      return m;
    }
    if (t === "event") return el("div", "bubble", "你" + p.what + (p.detail ? "：" + p.detail : ""));
    if (t === "error") return el("div", "bubble", "商家服务器答 " + p.status + "：" + p.body + "（微信会重试推送）");
    return el("div", "bubble", "[" + t + "] " + JSON.stringify(p));
  }

  function show(entry) {
    var kind = entry.msg.msgtype === "event" ? "event" : entry.from;
    var row = el("div", "row " + kind + (entry.via === "error" ? " error-row" : ""));
    row.dataset.seq = entry.seq;
    row.appendChild(body(entry.msg));
    if (entry.from === "shop" && VIA[entry.via]) row.appendChild(el("span", "via", VIA[entry.via]));
    chat.appendChild(row);
  }

  var polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    fetch(phone.dataset.feed + "&after=" + last, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) {
        var near = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
        data.items.forEach(function (entry) { if (entry.seq > last) { show(entry); last = entry.seq; } });
        if (data.items.length && near) chat.scrollTop = chat.scrollHeight;
      })
      .catch(function () {})
      .then(function () { polling = false; });
  }

  function send(form) {
    errorBox.hidden = true;
    return fetch(phone.dataset.push, { method: "POST", body: form })
      .then(function (r) { return r.json().then(function (data) { return [r.ok, data]; }); })
      .then(function (result) {
        if (!result[0]) throw new Error(result[1].error ? result[1].error.message : "发送失败");
        poll();
        chat.scrollTop = chat.scrollHeight;
      })
      .catch(function (err) { errorBox.textContent = err.message; errorBox.hidden = false; });
  }

  document.getElementById("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("text");
    if (!input.value.trim()) return;
    var form = new FormData();
    form.append("kind", "text");
    form.append("text", input.value);
    input.value = "";
    send(form);
  });

  var more = document.getElementById("more"), panel = document.getElementById("panel");
  more.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    more.setAttribute("aria-expanded", String(!panel.hidden));
  });

  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-kind]");
    if (!button) return;
    var form = new FormData();
    form.append("kind", button.dataset.kind);
    var key = button.dataset.key || (button.dataset.from ? document.getElementById(button.dataset.from).value.trim() : "");
    if (key) form.append("key", key);
    send(form);
  });

  document.getElementById("image").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) return;
    var form = new FormData();
    form.append("kind", "image");
    form.append("image", file);
    event.target.value = "";
    send(form);
  });

  poll();
  setInterval(poll, 1000);
}());
