// The inbox page's script (a module; the page allows no inline script). The shell's own part:
// the header's status follows the agent's. The rest of the inbox tells it with an
// "inbox:agent" event whose detail is the agent's JSON (GET /api/v1/me, agent.updated).
// Page data: JSON.parse(document.getElementById("inbox-data").textContent).

const STATUS_WORDS = { online: "在线", busy: "挂起", offline: "离线" };

window.addEventListener("inbox:agent", (event) => {
  const shown = document.querySelector(".agent-status");
  const status = event.detail && event.detail.status;
  if (shown && STATUS_WORDS[status]) {
    shown.dataset.status = status;
    shown.textContent = STATUS_WORDS[status];
  }
});

import "./app/main.js";
