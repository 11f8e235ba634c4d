/* kefu-bridge: the shop-page chat widget (docs/widget.md is its contract).
 *
 * One classic script, no dependencies, no build. It finds its own <script> tag, draws a
 * launcher and a panel in a shadow root (styles only from widget.css on the bridge's
 * origin; no inline styles, no eval, no innerHTML: text is text), and talks to the bridge's
 * /widget/<key>/ API: a visitor token kept in the shop page's localStorage, the state, an
 * SSE stream read with fetch() (so Authorization and Last-Event-ID can be sent), an outbox
 * that keeps the shopper's texts until the bridge has them.
 */
(function () {
  'use strict';

  var prior = window.kefu;
  if (prior && prior.kefuWidget) return; // the tag twice on one page: the first one runs

  // -- where we come from ----------------------------------------------------------------

  function ownScript() {
    var current = document.currentScript;
    if (current && /\/widget\.js$/.test((current.src || '').split(/[?#]/)[0])) return current;
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      var path = (scripts[i].src || '').split(/[?#]/)[0];
      if (path.indexOf('/widget/') >= 0 && /\/widget\.js$/.test(path)) return scripts[i];
    }
    return null;
  }

  var script = ownScript();
  if (!script) return;
  var BASE = script.src.split(/[?#]/)[0].replace(/\/widget\.js$/, '');
  var KEY = decodeURIComponent(BASE.slice(BASE.lastIndexOf('/') + 1));
  var STORE = {
    token: 'kefu:' + KEY + ':token', // {"token", "user": null}: the anonymous visitor
    userToken: 'kefu:' + KEY + ':user-token', // {"token", "user"}: a shopper the shop identified
    seen: 'kefu:' + KEY + ':seen', // the newest message id the shopper has seen (the unread badge)
    outbox: 'kefu:' + KEY + ':outbox' // texts the bridge has not confirmed yet
  };
  var FINAL = [400, 401, 403, 404, 413, 422];
  var MAX_IMAGE = 10 * 1024 * 1024;
  var STALE_MS = 40000; // no byte (not even the 15 s heartbeat) for this long: the stream is dead
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 6000;
  var PHONE = '(max-width: 667px)';

  function attr(name) {
    var value = script.getAttribute(name);
    return value ? value.trim() : '';
  }

  // -- storage (the shop page's own; a browser that refuses it keeps things in memory) ------

  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return key in memory ? memory[key] : null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { memory[key] = value; }
  }
  function drop(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* memory only */ }
    delete memory[key];
  }
  function loadJSON(key) {
    try { return JSON.parse(load(key) || 'null'); } catch (e) { return null; }
  }

  // -- small helpers -------------------------------------------------------------------------

  function randomId(prefix) {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var out = prefix || 'c';
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] % 36).toString(36);
    return out; // 17+ characters of [a-z0-9-]: the bridge's client_id
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(paths) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    paths.forEach(function (d) {
      var path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', d);
      svg.appendChild(path);
    });
    return svg;
  }
  var ICONS = {
    chat: ['M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.6 3.4 6.1L4.6 21l4.3-2.3c1 .3 2 .4 3.1.4 5.5 0 10-3.6 10-8.1S17.5 3 12 3z'],
    close: ['M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z'],
    image: ['M19 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2zm0 16H5V5h14v14zM8.5 11A1.5 1.5 0 1 0 8.5 8a1.5 1.5 0 0 0 0 3zM6 17h12l-3.8-5-2.9 3.8-2-2.6L6 17z'],
    send: ['M3 20.5 21 12 3 3.5v6.6l12.6 1.9L3 13.9z']
  };

  function safeUrl(value) {
    if (typeof value !== 'string' || !value) return null;
    try {
      var url = new URL(value, BASE + '/');
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (e) { return null; }
  }

  function wakeable() {
    var timer = null;
    var done = null;
    return {
      sleep: function (ms) {
        return new Promise(function (resolve) {
          done = function () { clearTimeout(timer); done = null; resolve(); };
          timer = setTimeout(done, ms);
        });
      },
      wake: function () { if (done) done(); }
    };
  }

  function retryAfterMs(response) {
    var value = response && response.headers && response.headers.get('Retry-After');
    var seconds = value ? parseInt(value, 10) : NaN;
    return isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) * 1000 : 0;
  }

  // -- what the widget knows -----------------------------------------------------------------

  var identity = null; // {user, hash, name} of a shopper the shop identified
  var context = {scene: attr('data-scene'), product: attr('data-product'), order: attr('data-order')};
  var token = null; // the visitor token, checked with the bridge on this page load
  var shopName = '';
  var epoch = 0; // bumped by reset and identify: answers to an older epoch are dropped
  var isOpen = false;
  var openedOnce = false;
  var contextDue = false; // a POST context is owed (first open, or the shop changed it)
  var contextWithFirstMessage = true;
  var conversation = null;
  var messages = new Map(); // id → the bridge's message view
  var pending = new Map(); // client_id → {cid, kind, text, file, preview, failed, ctx, t}
  var more = false;
  var lastEventId = null;
  var needState = true;
  var replaceOnState = false;
  var offline = !navigator.onLine;
  var refusedLine = null;
  var authFailures = 0;

  if (attr('data-user')) {
    identity = {user: attr('data-user'), hash: attr('data-user-hash'), name: attr('data-user-name')};
  }

  // -- the visitor token ---------------------------------------------------------------------

  function storedToken() {
    if (identity) {
      var kept = loadJSON(STORE.userToken);
      if (kept && kept.user === identity.user && kept.token) return kept.token;
      if (kept) drop(STORE.userToken); // another shopper's: never reused
      return null;
    }
    var anon = loadJSON(STORE.token);
    return anon && anon.token && !anon.user ? anon.token : null;
  }

  function keepToken(value) {
    if (identity) save(STORE.userToken, JSON.stringify({token: value, user: identity.user}));
    else save(STORE.token, JSON.stringify({token: value, user: null}));
  }

  function forgetToken() {
    drop(identity ? STORE.userToken : STORE.token);
  }

  function call(method, path, body, noAuth) {
    var headers = {};
    var init = {method: method, headers: headers, mode: 'cors', credentials: 'omit', cache: 'no-store'};
    if (!noAuth) headers.Authorization = 'Bearer ' + token;
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(BASE + '/' + path, init).then(function (response) {
      if (response.status < 500) setOffline(false);
      var type = response.headers.get('Content-Type') || '';
      var parsed = type.indexOf('json') >= 0 ? response.json().catch(function () { return null; }) : Promise.resolve(null);
      return parsed.then(function (data) {
        return {status: response.status, data: data, code: data && data.error && data.error.code, wait: retryAfterMs(response)};
      });
    }, function (error) {
      setOffline(true);
      throw error;
    });
  }

  var obtaining = null;
  function ensureToken(create) {
    if (token) return Promise.resolve(token);
    if (!obtaining) {
      var mine = epoch;
      obtaining = obtain(create).then(function (value) {
        obtaining = null;
        return mine === epoch ? value : null;
      }, function (error) {
        obtaining = null;
        throw error;
      });
      obtaining.create = create;
      return obtaining;
    }
    if (create && !obtaining.create) {
      return obtaining.then(function (value) { return value || ensureToken(true); });
    }
    return obtaining;
  }

  function obtain(create) {
    var mine = epoch;
    var kept = storedToken();
    var body;
    if (identity) {
      if (!kept && !create) return Promise.resolve(null);
      body = {user: identity.user, hash: identity.hash};
      if (identity.name) body.name = identity.name;
    } else if (kept) {
      body = {token: kept};
    } else if (create) {
      body = {};
    } else {
      return Promise.resolve(null);
    }
    return call('POST', 'visitor', body, true).then(function (r) {
      if (mine !== epoch) return null;
      if (r.status === 200 && r.data && r.data.token) {
        token = r.data.token;
        shopName = (r.data.shop && r.data.shop.name) || shopName;
        if (kept !== token) keepToken(token);
        showRefused(null);
        drawHeader();
        return token;
      }
      if (r.code === 'identity_refused') {
        forgetToken();
        showRefused('客服暂不可用：身份校验失败');
        return null;
      }
      if (r.code === 'identity_required') {
        showRefused('请先登录后再联系客服');
        return null;
      }
      if ((r.status === 401 || r.status === 403) && kept) {
        forgetToken(); // the kept token is no longer good: start over
        return create ? obtain(true) : null;
      }
      if (r.status === 429 || r.status >= 500) {
        var error = new Error('visitor ' + r.status);
        error.wait = r.wait;
        throw error;
      }
      showRefused('客服暂不可用，请稍后再试');
      return null;
    });
  }

  function tokenRefused() {
    // A call said 401 for a token the visitor check accepted: it was revoked or the bridge's
    // secret changed. Start over once or twice, then stop asking.
    forgetToken();
    restart(false);
    authFailures += 1;
    if (authFailures <= 2 && isOpen) connect(true);
    else if (authFailures > 2) showRefused('客服暂不可用，请稍后再试');
  }

  // -- connecting: token → state → stream ----------------------------------------------------

  var live = wakeable();
  var liveEpoch = -1;
  var streamCtrl = null;
  var lastActivity = Date.now();
  var reconnectNow = false;

  function connect(create) {
    var mine = epoch;
    return ensureToken(create).then(function (value) {
      if (!value || mine !== epoch) return;
      flushContext();
      flushViewed();
      kickSender();
      if (liveEpoch !== epoch) liveLoop(epoch);
    }, function (error) {
      setTimeout(function () { if (mine === epoch && !token) connect(create); }, Math.max(error.wait || 0, 3000));
    });
  }

  function loadState(mine) {
    return call('GET', 'state').then(function (r) {
      if (mine !== epoch) return false;
      if (r.status === 401) { tokenRefused(); return false; }
      if (r.status !== 200 || !r.data) { var error = new Error('state ' + r.status); error.wait = r.wait; throw error; }
      if (replaceOnState) {
        // Start over from the state, but keep what the stream brought after the state's read:
        // a reply that came in while this request was on its way is in the stream, not here.
        var newest = 0;
        (r.data.messages || []).forEach(function (m) { if (m.id > newest) newest = m.id; });
        messages.forEach(function (m, id) { if (!(id > newest)) messages.delete(id); });
        replaceOnState = false;
      }
      conversation = r.data.conversation || null;
      more = !!r.data.more;
      (r.data.messages || []).forEach(function (m) { receive(m, false); });
      if (!lastEventId || needState) lastEventId = r.data.position || lastEventId;
      needState = false;
      drawHeader();
      scheduleRender();
      return true;
    });
  }

  function liveLoop(mine) {
    liveEpoch = mine;
    var delay = 1000;
    function round() {
      if (mine !== epoch) return Promise.resolve();
      var wait = 0;
      var step = needState ? loadState(mine) : Promise.resolve(true);
      return step.then(function (ok) {
        if (!ok) return false;
        return stream(mine).then(function (gotData) { if (gotData) delay = 1000; return true; });
      }).catch(function (error) {
        wait = error && error.wait ? error.wait : 0;
        return true;
      }).then(function (goOn) {
        if (goOn === false || mine !== epoch) { if (liveEpoch === mine) liveEpoch = -1; return null; }
        var now = reconnectNow;
        reconnectNow = false;
        var pause = now && !wait ? 0 : Math.max(delay, wait);
        delay = Math.min(delay * 2, 30000);
        return live.sleep(pause).then(round);
      });
    }
    return round();
  }

  function stream(mine) {
    var ctrl = new AbortController();
    streamCtrl = ctrl;
    var headers = {Authorization: 'Bearer ' + token, Accept: 'text/event-stream'};
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    lastActivity = Date.now();
    var gotData = false;
    return fetch(BASE + '/events', {headers: headers, signal: ctrl.signal, mode: 'cors', credentials: 'omit', cache: 'no-store'})
      .then(function (response) {
        if (response.status === 401) { tokenRefused(); throw new Error('events 401'); }
        if (!response.ok || !response.body) {
          var error = new Error('events ' + response.status);
          error.wait = retryAfterMs(response);
          throw error;
        }
        setOffline(false);
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = '';
        var frame = {id: null, event: '', data: []};
        function line(text) {
          if (text === '') {
            if (frame.event || frame.data.length) dispatch(frame.event || 'message', frame.data.join('\n'), mine);
            if (frame.id !== null && mine === epoch) lastEventId = frame.id;
            frame = {id: null, event: '', data: []};
            return;
          }
          if (text.charAt(0) === ':') return; // a comment: the heartbeat
          var colon = text.indexOf(':');
          var field = colon < 0 ? text : text.slice(0, colon);
          var value = colon < 0 ? '' : text.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') frame.id = value;
          else if (field === 'event') frame.event = value;
          else if (field === 'data') frame.data.push(value);
        }
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done || mine !== epoch) { ctrl.abort(); return gotData; }
            lastActivity = Date.now();
            gotData = true;
            buffer += decoder.decode(chunk.value, {stream: true});
            var at;
            while ((at = buffer.indexOf('\n')) >= 0) {
              line(buffer.slice(0, at).replace(/\r$/, ''));
              buffer = buffer.slice(at + 1);
            }
            return pump();
          });
        }
        return pump();
      })
      .then(function (result) { if (streamCtrl === ctrl) streamCtrl = null; return result; },
        function (error) {
          if (streamCtrl === ctrl) streamCtrl = null;
          if (error && error.name === 'AbortError') return gotData; // ours: reconnect
          if (!navigator.onLine) setOffline(true);
          throw error;
        });
  }

  function dispatch(type, data, mine) {
    if (mine !== epoch) return;
    var value = null;
    try { value = data ? JSON.parse(data) : {}; } catch (e) { return; }
    if (type === 'message') receive(value, true);
    else if (type === 'typing') showTyping(value);
    else if (type === 'reset') { replaceOnState = true; loadState(mine).catch(function () { needState = true; }); }
  }

  function reconnect(force) {
    // Now rather than after the backoff: the network is back, the tab is visible again, or the
    // stream has been silent too long (a laptop that slept).
    if (!token) return;
    reconnectNow = true;
    if (force && streamCtrl) streamCtrl.abort();
    live.wake();
    if (liveEpoch !== epoch) liveLoop(epoch);
  }

  setInterval(function () {
    if (streamCtrl && Date.now() - lastActivity > STALE_MS) reconnect(true);
  }, 5000);

  window.addEventListener('online', function () {
    setOffline(false);
    reconnect(true);
    sender.wake();
    kickSender();
    if (!token && (isOpen || storedToken())) connect(isOpen);
  });
  window.addEventListener('offline', function () { setOffline(true); });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState !== 'visible') return;
    reconnect(Date.now() - lastActivity > 20000);
    markSeen();
  });

  // -- the messages --------------------------------------------------------------------------

  function receive(m, live) {
    if (!m || m.id == null) return;
    var fresh = !messages.has(m.id);
    messages.set(m.id, m);
    if (m.client_id) {
      if (pending.has(m.client_id)) {
        var p = pending.get(m.client_id);
        if (p.preview) setTimeout(function () { URL.revokeObjectURL(p.preview); }, 30000);
        pending.delete(m.client_id);
      }
      outboxRemove(m.client_id);
    }
    if (fresh && live && m.from !== 'me') {
      if (m.from === 'agent') {
        hideTyping();
        if (m.name && (!conversation || !conversation.agent || conversation.agent.name !== m.name)) {
          conversation = {state: 'active', agent: {name: m.name}, queue_position: null}; // the state confirms
          drawHeader();
          refreshState();
        }
      }
      if (m.from === 'system') {
        if ((m.notice === 'welcome' || m.notice === 'transfer') && m.name) {
          conversation = {state: 'active', agent: {name: m.name}, queue_position: null}; // the state confirms
          drawHeader();
        }
        refreshState();
      }
    }
    scheduleRender();
  }

  var refreshTimer = null;
  function refreshState() {
    // The header's agent and queue place come with the state; a notice (welcome, queue,
    // transfer, thanks) says they changed.
    clearTimeout(refreshTimer);
    var mine = epoch;
    refreshTimer = setTimeout(function () {
      if (mine === epoch && token) loadState(mine).catch(function () { /* the next notice retries */ });
    }, 200);
  }

  function loadEarlier() {
    var ids = Array.from(messages.keys());
    if (!ids.length || !token) return;
    var oldest = Math.min.apply(null, ids);
    var mine = epoch;
    ui.more.disabled = true;
    call('GET', 'messages?before=' + encodeURIComponent(oldest)).then(function (r) {
      ui.more.disabled = false;
      if (mine !== epoch || r.status !== 200 || !r.data) return;
      var list = ui.list;
      var fromBottom = list.scrollHeight - list.scrollTop;
      more = !!r.data.more;
      (r.data.messages || []).forEach(function (m) { receive(m, false); });
      render();
      list.scrollTop = list.scrollHeight - fromBottom;
    }, function () { ui.more.disabled = false; });
  }

  // -- the outbox: the shopper's texts until the bridge has them -----------------------------

  function owner() { return identity ? 'u:' + identity.user : 'anon'; }

  function outboxRead() {
    var items = loadJSON(STORE.outbox);
    return Array.isArray(items) ? items : [];
  }
  function outboxWrite(items) {
    if (items.length) save(STORE.outbox, JSON.stringify(items));
    else drop(STORE.outbox);
  }
  function outboxPut(item) {
    var items = outboxRead().filter(function (i) { return i.cid !== item.cid; });
    items.push({cid: item.cid, text: item.text, ctx: item.ctx || null, who: owner(), failed: !!item.failed, t: item.t});
    outboxWrite(items.slice(-50));
  }
  function outboxRemove(cid) {
    var items = outboxRead();
    var kept = items.filter(function (i) { return i.cid !== cid; });
    if (kept.length !== items.length) outboxWrite(kept);
  }
  function outboxRestore() {
    outboxRead().forEach(function (i) {
      if (i.who !== owner() || pending.has(i.cid) || typeof i.text !== 'string') return;
      pending.set(i.cid, {cid: i.cid, kind: 'text', text: i.text, ctx: i.ctx, failed: !!i.failed, t: i.t || 0});
    });
  }

  var sender = wakeable();
  var sending = false;
  var sendDelay = 1000;

  function nextToSend() {
    var best = null;
    pending.forEach(function (p) {
      if (!p.failed && (!best || p.t < best.t)) best = p;
    });
    return best;
  }

  function kickSender() {
    if (sending) { sender.wake(); return; }
    if (!nextToSend()) return;
    sending = true;
    var mine = epoch;
    function done() { sending = false; }
    function step() {
      if (mine !== epoch) return done();
      var item = nextToSend();
      if (!item) return done();
      return ensureToken(true).then(function (value) {
        if (!value) return done(); // refused: the line in the panel says why
        if (mine !== epoch) return done();
        return post(item).then(function (r) {
          if (mine !== epoch) return done();
          if (r.status === 200 || r.status === 201) {
            sendDelay = 1000;
            if (r.data && r.data.message) receive(r.data.message, false);
            if (pending.get(item.cid) === item) { pending.delete(item.cid); scheduleRender(); }
            outboxRemove(item.cid);
            return step();
          }
          if (FINAL.indexOf(r.status) >= 0 || (r.status < 500 && r.status !== 429 && r.status !== 408)) {
            item.failed = true;
            item.error = r.status === 413 ? '图片太大，无法发送' : r.status === 422 ? '无法发送此消息' : '发送失败';
            if (item.kind === 'text') outboxPut(item);
            scheduleRender();
            if (r.status === 401) tokenRefused();
            return step();
          }
          return later(r.wait);
        }, function () { return later(0); });
      }, function (error) { return later(error && error.wait); });
    }
    function later(wait) {
      var pause = Math.max(sendDelay, wait || 0);
      sendDelay = Math.min(sendDelay * 2, 30000);
      return sender.sleep(pause).then(step);
    }
    step();
  }

  function post(item) {
    if (item.kind === 'image') {
      var form = new FormData();
      form.append('client_id', item.cid);
      form.append('image', item.file, item.file.name || 'image');
      return call('POST', 'messages', form);
    }
    var body = {client_id: item.cid, text: item.text};
    if (item.ctx) body.context = item.ctx;
    return call('POST', 'messages', body);
  }

  function contextBody() {
    var body = {};
    ['scene', 'product', 'order'].forEach(function (k) { if (context[k]) body[k] = String(context[k]).slice(0, 128); });
    body.page = String(location.href).slice(0, 512);
    return body;
  }

  function sendText(text) {
    var item = {cid: randomId('c'), kind: 'text', text: text, failed: false, t: Date.now()};
    if (contextWithFirstMessage) { item.ctx = contextBody(); contextWithFirstMessage = false; }
    pending.set(item.cid, item);
    outboxPut(item);
    scheduleRender(true);
    kickSender();
  }

  function sendImage(file) {
    var item = {cid: randomId('c'), kind: 'image', file: file, preview: URL.createObjectURL(file), failed: false, t: Date.now()};
    pending.set(item.cid, item);
    scheduleRender(true);
    kickSender();
  }

  function resend(cid) {
    var item = pending.get(cid);
    if (!item) return;
    item.failed = false;
    item.error = null;
    if (item.kind === 'text') outboxPut(item);
    sendDelay = 1000;
    scheduleRender();
    kickSender();
  }

  // -- context and typing ----------------------------------------------------------------------

  var contextTimer = null;
  function flushContext() {
    if (!contextDue || !token) return;
    clearTimeout(contextTimer);
    var mine = epoch;
    contextTimer = setTimeout(function () {
      if (mine !== epoch || !token || !contextDue) return;
      contextDue = false;
      call('POST', 'context', contextBody()).then(function (r) {
        if (r.status === 429 || r.status >= 500) contextDue = true;
      }, function () { contextDue = true; });
    }, 150);
  }

  // -- what the shopper looks at: kefu('viewed', productId) --------------------------------------

  var viewedDue = null; // a product id the bridge has not been told yet (the newest only)
  var viewedTimer = null;

  function viewed(productId) {
    if (productId == null || productId === '') return;
    viewedDue = String(productId).slice(0, 128);
    setContext({product: viewedDue});
    flushViewed();
  }

  function flushViewed() {
    // Told with the visitor's token only: a shopper who never opened the chat is not made a
    // visitor for looking at a page; their latest view is told once they have a token.
    if (!viewedDue || !token) return;
    clearTimeout(viewedTimer);
    var mine = epoch;
    viewedTimer = setTimeout(function () {
      var productId = viewedDue;
      if (mine !== epoch || !token || !productId) return;
      call('POST', 'viewed', {product_id: productId}).then(function (r) {
        if (viewedDue === productId && !(r.status === 429 || r.status >= 500)) viewedDue = null;
      }, function () { /* offline: the next token or view tells it */ });
    }, 150);
  }

  var typingSentAt = 0;
  var typingOn = false;
  function typed() {
    var empty = !ui.text.value.trim();
    if (!token) return;
    if (!empty && Date.now() - typingSentAt > TYPING_EVERY_MS) {
      typingSentAt = Date.now();
      typingOn = true;
      call('POST', 'typing', {typing: true}).catch(function () {});
    } else if (empty && typingOn) {
      stoppedTyping();
    }
  }
  function stoppedTyping() {
    if (!typingOn || !token) return;
    typingOn = false;
    typingSentAt = 0;
    call('POST', 'typing', {typing: false}).catch(function () {});
  }

  var typingTimer = null;
  function showTyping(data) {
    clearTimeout(typingTimer);
    if (!data || !data.typing) { hideTyping(); return; }
    var name = data.name || (conversation && conversation.agent && conversation.agent.name) || lastAgentName() || '客服';
    ui.typing.textContent = name + '正在输入…';
    ui.typing.hidden = false;
    typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }
  function lastAgentName() {
    var best = null;
    messages.forEach(function (m) {
      if (m.name && (m.from === 'agent' || m.from === 'system') && (!best || m.id > best.id)) best = m;
    });
    return best ? best.name : '';
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    if (ui) ui.typing.hidden = true;
  }

  // -- unread ------------------------------------------------------------------------------------

  function seenMark() {
    var value = parseInt(load(STORE.seen) || '0', 10);
    return isFinite(value) ? value : 0;
  }

  function unread() {
    var mark = seenMark();
    var count = 0;
    messages.forEach(function (m) { if (m.from !== 'me' && m.id > mark) count += 1; });
    return count;
  }

  function markSeen() {
    if (!isOpen || document.visibilityState === 'hidden' || !token) return;
    var newest = 0;
    messages.forEach(function (m) { if (m.id > newest) newest = m.id; });
    if (newest > seenMark()) save(STORE.seen, String(newest));
    drawBadge();
  }

  function drawBadge() {
    if (!ui) return;
    var count = isOpen && document.visibilityState !== 'hidden' ? 0 : unread();
    ui.badge.textContent = count > 99 ? '99+' : String(count);
    ui.badge.hidden = count === 0;
  }

  // -- the UI ------------------------------------------------------------------------------------

  var host = null;
  var root = null;
  var ui = null;
  var vvRule = null;

  function button(cls, label, glyph) {
    var b = el('button', cls);
    b.type = 'button';
    if (label) b.setAttribute('aria-label', label);
    if (glyph) b.appendChild(icon(glyph));
    return b;
  }

  function build() {
    var u = {};
    u.wrap = el('div', 'kefu');

    u.panel = el('div', 'panel');
    u.panel.setAttribute('data-kefu-panel', '');
    u.panel.setAttribute('role', 'dialog');
    u.panel.setAttribute('aria-label', '在线客服');
    u.panel.hidden = true;

    var head = el('div', 'head');
    var titles = el('div', 'titles');
    u.shop = el('div', 'shop', '在线客服');
    u.status = el('div', 'status', '客服');
    titles.appendChild(u.shop);
    titles.appendChild(u.status);
    u.close = button('close', '关闭', ICONS.close);
    head.appendChild(titles);
    head.appendChild(u.close);

    u.alert = el('div', 'alert');
    u.alert.setAttribute('role', 'alert');
    u.alert.hidden = true;
    u.offline = el('div', 'offline', '网络已断开，消息会在恢复后发送');
    u.offline.setAttribute('role', 'status');
    u.offline.hidden = true;

    u.list = el('div', 'list');
    u.list.setAttribute('role', 'log');
    u.list.setAttribute('aria-live', 'polite');
    u.list.setAttribute('aria-label', '消息');
    u.more = el('button', 'more', '加载更早的消息');
    u.more.type = 'button';
    u.more.hidden = true;
    u.list.appendChild(u.more);

    u.typing = el('div', 'typing');
    u.typing.setAttribute('aria-live', 'polite');
    u.typing.hidden = true;
    u.note = el('div', 'note');
    u.note.setAttribute('role', 'status');
    u.note.hidden = true;

    u.preview = el('div', 'preview');
    u.preview.hidden = true;
    u.previewImg = el('img', 'thumb');
    u.previewImg.alt = '待发送的图片';
    u.previewDrop = button('unpick', '取消图片', ICONS.close);
    u.preview.appendChild(u.previewImg);
    u.preview.appendChild(u.previewDrop);

    var composer = el('div', 'composer');
    u.pick = button('pick', '发送图片', ICONS.image);
    u.file = el('input');
    u.file.type = 'file';
    u.file.accept = 'image/*';
    u.file.hidden = true;
    u.file.tabIndex = -1;
    u.text = el('textarea', 'text');
    u.text.name = 'text';
    u.text.rows = 1;
    u.text.maxLength = 2000;
    u.text.placeholder = '请输入消息…';
    u.text.setAttribute('aria-label', '输入消息');
    u.text.setAttribute('enterkeyhint', 'send');
    u.send = button('send', '发送', ICONS.send);
    composer.appendChild(u.pick);
    composer.appendChild(u.file);
    composer.appendChild(u.text);
    composer.appendChild(u.send);

    [head, u.alert, u.offline, u.list, u.typing, u.note, u.preview, composer].forEach(function (n) { u.panel.appendChild(n); });

    u.launcher = button('launcher', '在线客服', ICONS.chat);
    u.launcher.setAttribute('data-kefu-launcher', '');
    u.launcher.setAttribute('aria-expanded', 'false');
    u.badge = el('span', 'badge', '0');
    u.badge.setAttribute('aria-hidden', 'true');
    u.badge.hidden = true;
    u.launcher.appendChild(u.badge);

    u.wrap.appendChild(u.panel);
    u.wrap.appendChild(u.launcher);

    u.launcher.addEventListener('click', function () { if (isOpen) close(); else open(); });
    u.close.addEventListener('click', function () { close(); u.launcher.focus(); });
    u.panel.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' || e.key === 'Esc') { e.preventDefault(); close(); u.launcher.focus(); }
    });
    u.more.addEventListener('click', loadEarlier);
    u.text.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submit();
      }
    });
    u.text.addEventListener('input', function () { grow(); typed(); });
    u.send.addEventListener('click', function () { submit(); u.text.focus(); });
    u.pick.addEventListener('click', function () { u.file.click(); });
    u.file.addEventListener('change', function () {
      var file = u.file.files && u.file.files[0];
      u.file.value = '';
      if (file) pickImage(file);
    });
    u.previewDrop.addEventListener('click', function () { pickImage(null); u.text.focus(); });
    u.list.addEventListener('click', function (e) {
      var target = e.target.closest ? e.target.closest('[data-resend]') : null;
      if (target) resend(target.getAttribute('data-resend'));
    });
    return u;
  }

  function grow() {
    var lines = ui.text.value.split('\n').length;
    var wrapped = Math.ceil(ui.text.value.length / 22);
    ui.text.rows = Math.max(1, Math.min(5, Math.max(lines, wrapped)));
  }

  var picked = null;
  function pickImage(file) {
    if (ui.previewImg.src && ui.previewImg.src.indexOf('blob:') === 0 && !isPending(ui.previewImg.src)) {
      URL.revokeObjectURL(ui.previewImg.src);
    }
    picked = null;
    ui.preview.hidden = true;
    ui.previewImg.removeAttribute('src');
    if (!file) return;
    if (file.type && file.type.indexOf('image/') !== 0) { note('请选择图片文件'); return; }
    if (file.size > MAX_IMAGE) { note('图片不能超过 10 MB'); return; }
    note(null);
    picked = file;
    ui.previewImg.src = URL.createObjectURL(file);
    ui.preview.hidden = false;
  }
  function isPending(url) {
    var found = false;
    pending.forEach(function (p) { if (p.preview === url) found = true; });
    return found;
  }

  var noteTimer = null;
  function note(text) {
    clearTimeout(noteTimer);
    ui.note.textContent = text || '';
    ui.note.hidden = !text;
    if (text) noteTimer = setTimeout(function () { ui.note.hidden = true; }, 6000);
  }

  function submit() {
    var text = ui.text.value;
    if (picked) {
      sendImage(picked);
      picked = null;
      ui.preview.hidden = true;
      ui.previewImg.removeAttribute('src');
    }
    if (text.trim()) {
      sendText(text);
      ui.text.value = '';
      grow();
    }
    stoppedTyping();
  }

  function showRefused(text) {
    refusedLine = text;
    if (!ui) return;
    ui.alert.textContent = text || '';
    ui.alert.hidden = !text;
  }

  function setOffline(value) {
    offline = value || !navigator.onLine;
    if (ui) ui.offline.hidden = !offline;
  }

  function drawHeader() {
    if (!ui) return;
    ui.shop.textContent = shopName || '在线客服';
    var c = conversation;
    var status = '客服';
    if (c && c.state === 'active' && c.agent && c.agent.name) status = c.agent.name;
    else if (c && (c.state === 'queued' || c.state === 'waiting')) status = c.queue_position ? '排队中 第' + c.queue_position + '位' : '排队中';
    else if (c && c.state === 'bot') status = '智能助手';
    ui.status.textContent = status;
  }

  // -- drawing the messages ----------------------------------------------------------------------

  var nodes = new Map(); // 'm<id>' | 'p<client_id>' → element
  var renderQueued = false;
  var stickToBottom = false;
  function scheduleRender(toBottom) {
    if (toBottom) stickToBottom = true;
    if (renderQueued) return;
    renderQueued = true;
    Promise.resolve().then(function () { renderQueued = false; render(); });
  }

  function ordered() {
    var server = Array.from(messages.values()).sort(function (a, b) { return a.id - b.id; });
    var mine = Array.from(pending.values()).sort(function (a, b) { return a.t - b.t; });
    return {server: server, mine: mine};
  }

  function render() {
    drawBadge();
    if (!ui) return;
    var list = ui.list;
    var atBottom = stickToBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    stickToBottom = false;
    ui.more.hidden = !more || !messages.size;
    var all = ordered();
    var rating = ratingAnswers(all.server);
    var keep = new Set();
    var prev = ui.more;
    function place(key, make, update) {
      var node = nodes.get(key);
      if (!node) { node = make(); nodes.set(key, node); }
      if (update) update(node);
      keep.add(key);
      if (prev.nextSibling !== node) list.insertBefore(node, prev.nextSibling);
      prev = node;
    }
    all.server.forEach(function (m) {
      if (m.from === 'system' && m.notice === 'rating') {
        place('m' + m.id, function () { return ratingCard(m); }, function (node) { updateCard(node, rating.get(m.id)); });
      } else {
        place('m' + m.id, function () { return messageNode(m); });
      }
    });
    all.mine.forEach(function (p) {
      place('p' + p.cid, function () { return pendingNode(p); }, function (node) { updatePending(node, p); });
    });
    nodes.forEach(function (node, key) {
      if (!keep.has(key)) { node.remove(); nodes.delete(key); }
    });
    if (atBottom) list.scrollTop = list.scrollHeight;
    markSeen();
  }

  function bubbleFor(m, previewUrl) {
    var bubble = el('div', 'bubble');
    if (m.type === 'image') {
      var src = previewUrl || safeUrl(m.image_url);
      bubble.className = 'bubble image';
      if (src) {
        var img = el('img');
        img.alt = '图片';
        img.decoding = 'async';
        img.addEventListener('load', function () {
          var list = ui.list;
          if (list.scrollHeight - list.scrollTop - list.clientHeight < img.height + 120) list.scrollTop = list.scrollHeight;
        });
        img.src = src;
        if (previewUrl) {
          bubble.appendChild(img);
        } else {
          var a = el('a');
          a.href = src;
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
          a.setAttribute('aria-label', '查看大图');
          a.appendChild(img);
          bubble.appendChild(a);
        }
      } else {
        bubble.textContent = '[图片]';
      }
    } else if (m.type === 'link' && m.card) {
      bubble.className = 'bubble card';
      var url = safeUrl(m.card.url);
      var box = el(url ? 'a' : 'div', 'link');
      if (url) { box.href = url; box.target = '_blank'; box.rel = 'noopener noreferrer'; }
      var words = el('span', 'words');
      words.appendChild(el('span', 'title', m.card.title || url || '链接'));
      if (m.card.description) words.appendChild(el('span', 'desc', m.card.description));
      box.appendChild(words);
      var thumb = safeUrl(m.card.thumb_url);
      if (thumb && thumb.indexOf('https:') === 0 || (thumb && thumb.indexOf(BASE) === 0)) {
        var t = el('img', 'cardthumb');
        t.alt = '';
        t.addEventListener('error', function () { t.remove(); });
        t.src = thumb;
        box.appendChild(t);
      }
      bubble.appendChild(box);
    } else if (SHOP_CARDS[m.type] && m.card) {
      return shopCard(m);
    } else if (m.type === 'miniprogrampage') {
      bubble.className = 'bubble card mini';
      bubble.appendChild(el('span', 'title', (m.card && m.card.title) || '小程序'));
      bubble.appendChild(el('span', 'desc', '请在微信小程序中查看'));
    } else {
      var rated = m.from === 'me' && m.client_id && m.client_id.indexOf('rate-') === 0 && /^([1-5])(?:\s+([\s\S]*))?$/.exec(m.text || '');
      if (rated) {
        bubble.className = 'bubble rated';
        bubble.appendChild(el('span', 'stars', '★★★★★'.slice(0, +rated[1]) + '☆☆☆☆☆'.slice(+rated[1])));
        bubble.setAttribute('aria-label', '评价 ' + rated[1] + ' 星');
        if (rated[2]) bubble.appendChild(el('span', 'remark', rated[2]));
      } else {
        bubble.textContent = m.text || '';
      }
    }
    return bubble;
  }

  // -- a shop card: a product, coupon or order the agent (or a keyword rule) sent -------------

  var SHOP_CARDS = {product: '商品', coupon: '优惠券', order: '订单'};

  function shopImage(value) {
    // The shop's own picture, straight from its https URL: an http one would be mixed content
    // on an https shop page, and no other scheme is a picture.
    var url = safeUrl(value);
    return url && url.indexOf('https:') === 0 ? url : null;
  }

  function shopCard(m) {
    // The whole card is one link to the shop's page, in a new tab; every field is text.
    var c = m.card;
    var bubble = el('div', 'bubble card shopcard ' + m.type);
    bubble.setAttribute('data-card', m.type);
    var url = safeUrl(c.url);
    var box = el(url ? 'a' : 'div', 'cardbox');
    if (url) { box.href = url; box.target = '_blank'; box.rel = 'noopener noreferrer'; }
    var image = shopImage(c.image);
    if (image) {
      var img = el('img', 'cardimage');
      img.alt = '';
      img.decoding = 'async';
      img.referrerPolicy = 'no-referrer';
      img.addEventListener('error', function () { img.remove(); });
      img.src = image;
      box.appendChild(img);
    }
    var words = el('span', 'words');
    words.appendChild(el('span', 'kind', SHOP_CARDS[m.type]));
    words.appendChild(el('span', 'title', c.title || m.text || SHOP_CARDS[m.type]));
    if (m.type === 'product' && c.price) {
      words.appendChild(el('span', 'price', '¥' + c.price));
    } else if (c.description) {
      // a product without a price; a coupon's value and condition; an order's state, logistics, amount
      words.appendChild(el('span', 'desc', c.description));
    }
    box.appendChild(words);
    if (m.type === 'coupon' && url) box.appendChild(el('span', 'claim', '领取'));
    bubble.appendChild(box);
    return bubble;
  }

  function messageNode(m) {
    if (m.from === 'system') {
      var line = el('div', 'system');
      line.setAttribute('data-message-id', String(m.id));
      line.setAttribute('data-delivery', 'sent');
      if (m.type === 'text' || !m.type) line.appendChild(el('span', null, m.text || ''));
      else line.appendChild(bubbleFor(m));
      return line;
    }
    var row = el('div', 'row ' + (m.from === 'me' ? 'me' : 'other ' + m.from));
    row.setAttribute('data-message-id', String(m.id));
    row.setAttribute('data-delivery', 'sent');
    var col = el('div', 'col');
    if (m.from === 'agent' && m.name) col.appendChild(el('div', 'name', m.name));
    else if (m.from === 'bot') col.appendChild(el('div', 'name', '智能助手'));
    col.appendChild(bubbleFor(m));
    row.appendChild(col);
    return row;
  }

  function pendingNode(p) {
    var row = el('div', 'row me');
    row.setAttribute('data-client-id', p.cid);
    var col = el('div', 'col');
    col.appendChild(bubbleFor({from: 'me', type: p.kind, text: p.text}, p.preview));
    row.appendChild(col);
    return row;
  }

  function updatePending(row, p) {
    var state = p.failed ? 'failed' : 'pending';
    if (row.getAttribute('data-delivery') === state) return;
    row.setAttribute('data-delivery', state);
    var old = row.querySelector('.state');
    if (old) old.remove();
    var mark = el('div', 'state');
    if (p.failed) {
      var bang = el('span', 'failed', '!');
      bang.setAttribute('title', p.error || '发送失败');
      bang.setAttribute('role', 'img');
      bang.setAttribute('aria-label', p.error || '发送失败');
      var again = el('button', 'resend', '重发');
      again.type = 'button';
      again.setAttribute('data-resend', p.cid);
      mark.appendChild(bang);
      mark.appendChild(again);
    } else {
      var clock = el('span', 'clock');
      clock.setAttribute('role', 'img');
      clock.setAttribute('aria-label', '发送中');
      mark.appendChild(clock);
    }
    row.insertBefore(mark, row.firstChild);
  }

  // -- the rating card -----------------------------------------------------------------------------

  function ratingAnswers(server) {
    // card id → the score the shopper gave it (from their rate-… answer after it), 0 for none,
    // -1 for a card a later card replaced unanswered.
    var out = new Map();
    var open = null;
    server.forEach(function (m) {
      if (m.from === 'system' && m.notice === 'rating') {
        if (open !== null) out.set(open, -1);
        open = m.id;
        out.set(m.id, 0);
      } else if (open !== null && m.from === 'me' && m.client_id && m.client_id.indexOf('rate-') === 0) {
        var score = parseInt(m.text, 10);
        out.set(open, score >= 1 && score <= 5 ? score : 5);
        open = null;
      }
    });
    return out;
  }

  function ratingCard(m) {
    var card = el('div', 'rating');
    card.setAttribute('data-message-id', String(m.id));
    card.setAttribute('data-delivery', 'sent');
    // The shop's rating text tells WeChat shoppers to reply with a digit; here the stars ask.
    card.appendChild(el('div', 'prompt', m.name ? '请为客服' + m.name + '本次的服务评分' : '请为本次服务评分'));
    var stars = el('div', 'stars');
    stars.setAttribute('role', 'group');
    stars.setAttribute('aria-label', '评分');
    card.appendChild(stars);
    var comment = el('textarea', 'comment');
    comment.name = 'comment';
    comment.rows = 2;
    comment.maxLength = 500;
    comment.placeholder = '说说您的感受（选填）';
    comment.setAttribute('aria-label', '评价内容（选填）');
    var submitButton = el('button', 'submit', '提交评价');
    submitButton.type = 'button';
    var error = el('div', 'error');
    error.hidden = true;
    card.appendChild(comment);
    card.appendChild(submitButton);
    card.appendChild(error);
    var chosen = 0;
    var cid = randomId('rate-');
    function paint() {
      Array.prototype.forEach.call(stars.children, function (b, i) {
        b.classList.toggle('on', i < chosen);
        b.setAttribute('aria-pressed', i + 1 === chosen ? 'true' : 'false');
      });
      submitButton.disabled = !chosen;
    }
    for (var n = 1; n <= 5; n++) {
      var star = el('button', 'star', '★');
      star.type = 'button';
      star.setAttribute('data-rating', String(n));
      star.setAttribute('aria-label', n + '星');
      star.addEventListener('click', function (e) {
        chosen = parseInt(e.currentTarget.getAttribute('data-rating'), 10);
        paint();
      });
      stars.appendChild(star);
    }
    paint();
    submitButton.addEventListener('click', function () {
      if (!chosen) return;
      submitButton.disabled = true;
      error.hidden = true;
      var body = {score: chosen, client_id: cid};
      if (comment.value.trim()) body.comment = comment.value.trim().slice(0, 500);
      var mine = epoch;
      ensureToken(true).then(function (value) {
        if (!value) throw new Error('no token');
        return call('POST', 'rating', body);
      }).then(function (r) {
        if (mine !== epoch) return;
        if ((r.status === 200 || r.status === 201) && r.data && r.data.message) {
          receive(r.data.message, false);
          return;
        }
        throw new Error('rating ' + r.status);
      }).catch(function () {
        error.textContent = '提交失败，请重试';
        error.hidden = false;
        submitButton.disabled = false;
      });
    });
    card.kefuShow = function (score) {
      // answered (score 1–5) or replaced (-1): the stars read-only, the form gone
      if (card.getAttribute('data-answered')) return;
      card.setAttribute('data-answered', String(score));
      stars.textContent = '';
      stars.setAttribute('role', 'img');
      if (score > 0) {
        stars.setAttribute('aria-label', '已评价 ' + score + ' 星');
        for (var i = 1; i <= 5; i++) stars.appendChild(el('span', i <= score ? 'star on' : 'star', '★'));
        card.appendChild(el('div', 'done', '已提交评价'));
      } else {
        stars.remove();
      }
      comment.remove();
      submitButton.remove();
      error.remove();
    };
    return card;
  }

  function updateCard(card, score) {
    if (score) card.kefuShow(score);
  }

  // -- open, close, reset --------------------------------------------------------------------------

  function open() {
    isOpen = true;
    if (!openedOnce) { openedOnce = true; contextDue = true; }
    if (ui) {
      ui.panel.hidden = false;
      ui.wrap.classList.add('open');
      ui.launcher.setAttribute('aria-expanded', 'true');
      ui.launcher.setAttribute('aria-label', '在线客服');
      fitViewport();
      scheduleRender(true);
      try { ui.text.focus({preventScroll: true}); } catch (e) { ui.text.focus(); }
    }
    if (token) { flushContext(); markSeen(); } else connect(true);
  }

  function close() {
    isOpen = false;
    if (!ui) return;
    stoppedTyping();
    ui.panel.hidden = true;
    ui.wrap.classList.remove('open');
    ui.launcher.setAttribute('aria-expanded', 'false');
    drawBadge();
  }

  function restart(clearAll) {
    // A new epoch: what the old visitor was doing is let go (its answers are ignored).
    epoch += 1;
    token = null;
    obtaining = null;
    if (streamCtrl) streamCtrl.abort();
    streamCtrl = null;
    live.wake();
    sender.wake();
    liveEpoch = -1;
    lastEventId = null;
    needState = true;
    conversation = null;
    more = false;
    messages.clear();
    if (clearAll) pending.clear();
    contextWithFirstMessage = true;
    if (openedOnce) contextDue = true;
    hideTyping();
    drawHeader();
    scheduleRender();
  }

  function reset(fromOtherTab) {
    if (!fromOtherTab) {
      [STORE.token, STORE.userToken, STORE.seen, STORE.outbox].forEach(drop);
    }
    identity = null;
    authFailures = 0;
    showRefused(null);
    close();
    openedOnce = false;
    contextDue = false;
    restart(true);
  }

  function identify(who) {
    if (!who || !who.user) return;
    var next = {user: String(who.user), hash: String(who.hash || ''), name: who.name ? String(who.name) : ''};
    if (identity && identity.user === next.user && identity.hash === next.hash) {
      identity.name = next.name || identity.name;
      return;
    }
    identity = next;
    showRefused(null);
    restart(true);
    outboxRestore();
    if (isOpen || storedToken()) connect(isOpen);
  }

  function setContext(value) {
    if (!value || typeof value !== 'object') return;
    var changed = false;
    ['scene', 'product', 'order'].forEach(function (k) {
      if (k in value) {
        var v = value[k] == null ? '' : String(value[k]);
        if (context[k] !== v) { context[k] = v; changed = true; }
      }
    });
    if (changed) contextChanged();
  }

  function contextChanged() {
    if (token || openedOnce) { contextDue = true; flushContext(); }
  }

  // -- other tabs ------------------------------------------------------------------------------------

  window.addEventListener('storage', function (e) {
    try { if (e.storageArea && e.storageArea !== window.localStorage) return; } catch (err) { return; }
    if (e.key === null) { reset(true); return; } // localStorage.clear()
    if (e.key === STORE.seen) { drawBadge(); return; }
    var mineKey = identity ? STORE.userToken : STORE.token;
    if (e.key !== mineKey && !(e.key === STORE.token && identity)) return;
    if (e.newValue === null && e.key === mineKey && token) {
      reset(true); // the shopper logged out (kefu('reset')) or the token was refused in another tab
    } else if (e.newValue && !token && e.key === mineKey) {
      connect(false); // another tab opened the chat: show this one's unread too
    }
  });

  // -- mounting --------------------------------------------------------------------------------------

  function fitViewport() {
    // On a phone the open panel fills the visual viewport, so the composer stays above the
    // keyboard. The size goes through a constructed stylesheet's custom property: CSSOM, no
    // style attribute, nothing a strict CSP refuses.
    if (!ui || !vvRule) return;
    var vv = window.visualViewport;
    var phone = window.matchMedia && window.matchMedia(PHONE).matches;
    if (vv && phone && isOpen) {
      vvRule.style.setProperty('--kefu-vvh', Math.round(vv.height) + 'px');
      vvRule.style.setProperty('--kefu-vvtop', Math.round(vv.offsetTop) + 'px');
      ui.wrap.classList.add('vv');
    } else {
      ui.wrap.classList.remove('vv');
    }
  }

  function mount() {
    host = document.createElement('kefu-widget');
    host.hidden = true; // until widget.css has loaded: no flash of an unstyled panel
    host.setAttribute('data-kefu-host', '');
    // Open, not closed: a closed root keeps nothing from a page that wants in (it can wrap
    // attachShadow before this runs), and an open one lets browser tests and assistive tools see it.
    root = host.attachShadow({mode: 'open'});
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(':host { }');
      root.adoptedStyleSheets = [sheet];
      vvRule = sheet.cssRules[0];
    } catch (e) { vvRule = null; }
    var link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = BASE + '/widget.css';
    var shown = false;
    function show() {
      if (shown) return;
      shown = true;
      root.appendChild(ui.wrap);
      host.hidden = false;
      drawHeader();
      showRefused(refusedLine);
      setOffline(offline);
      if (isOpen) open();
      render();
    }
    link.addEventListener('load', show);
    link.addEventListener('error', function () {
      if (window.console) console.warn('kefu widget: ' + link.href + ' did not load; the widget stays hidden');
    });
    root.appendChild(link);
    ui = build();
    document.body.appendChild(host);
    if (window.visualViewport) {
      window.visualViewport.addEventListener('resize', fitViewport);
      window.visualViewport.addEventListener('scroll', fitViewport);
    }
    window.addEventListener('resize', fitViewport);
  }

  // -- window.kefu -----------------------------------------------------------------------------------

  function kefu(command, arg) {
    try {
      if (command === 'open') open();
      else if (command === 'close') close();
      else if (command === 'context') setContext(arg);
      else if (command === 'viewed') viewed(arg);
      else if (command === 'identify') identify(arg);
      else if (command === 'reset') reset(false);
      else if (window.console) console.warn('kefu: no command ' + String(command));
    } catch (e) {
      if (window.console) console.error('kefu(' + String(command) + ')', e);
    }
  }
  kefu.kefuWidget = true;
  var queued = (prior && prior.q) || [];
  window.kefu = kefu;

  function start() {
    mount();
    // The queue's identify/context/reset first, its open last: the right visitor opens.
    var opens = [];
    Array.prototype.forEach.call(queued, function (args) {
      if (!args) return;
      if (args[0] === 'open' || args[0] === 'close') opens.push(args);
      else kefu(args[0], args[1]);
    });
    outboxRestore();
    if (storedToken()) connect(false); // a returning shopper: live now, so the launcher shows unread
    opens.forEach(function (args) { kefu(args[0], args[1]); });
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
