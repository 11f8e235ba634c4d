"""The README's Quick start, run as written: `make run` in a copy of the project as a fresh
clone has it, then the README's "try it" commands, one at a time as a person types them, then
what the demo shopper's WeChat shows. If the README and the product drift apart, this fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from adapters.wechat.mp_push import signed
from tests.live import ROOT, free_port

MARKER = "<!-- tests/test_quickstart.py runs the block below"
PAUSE = 0.5  # seconds between commands: a person typing


def readme_commands() -> list[str]:
    """The shell commands of the README's tested block (continuation lines joined)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MARKER in text, "README.md lost its tested quick-start block"
    block = re.search(r"```sh\n(.*?)```", text[text.index(MARKER):], re.DOTALL).group(1)
    commands, current = [], ""
    for line in block.splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            if current.strip():
                commands.append(current.strip())
            current = ""
    return commands


def fresh_copy(dest: Path) -> Path:
    """The files a clone of this checkout holds, plus this checkout's installed .venv."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


@pytest.fixture
def make_run(tmp_path):
    if shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "flask").exists():
        pytest.skip("needs make and the project's .venv (make install)")
    project = fresh_copy(tmp_path / "kefu-bridge")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KEFU_DEMO_URL", "WECHAT_API_BASE")}
    log = (tmp_path / "make-run.log").open("w+")
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=project, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Demo logins" not in (banner := (tmp_path / "make-run.log").read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "make run did not start:\n" + banner
            time.sleep(0.2)
        yield project, port, banner
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_the_readme_quick_start_works_as_written(make_run):
    project, port, banner = make_run
    base = f"http://127.0.0.1:{port}"
    assert banner.index(f"{base}/inbox/") < banner.index("demo / alice / alice-demo-pass") < banner.index(
        f"{base}/demo/shopper/demo-oa")  # the inbox and its logins first, then the shopper's page
    assert 'name="password"' in requests.get(f"{base}/inbox/", timeout=5).text
    commands = [c.replace("localhost:8000", f"localhost:{port}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                for c in readme_commands()]
    script = "set -euo pipefail\n" + f"\nsleep {PAUSE}\n".join(commands)
    ran = subprocess.run(["bash", "-c", script], check=False, cwd=project, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, f"the README's commands failed:\n{ran.stdout}\n{ran.stderr}"
    assert '"text":"亲，在的"' in ran.stdout and '"state":"ended"' in ran.stdout

    demo = json.loads((project / "demo" / "shop.json").read_text(encoding="utf-8"))["shops"][0]
    thanks = "感谢您对客服Alice的评价"
    deadline = time.monotonic() + 30
    while True:
        feed = requests.get(f"{base}/demo/shopper/demo-oa/feed", params={"openid": "demo-shopper"}, timeout=5).json()
        texts = [(e["from"], e["msg"]["text"]["content"]) for e in feed["items"] if e["msg"]["msgtype"] == "text"]
        if (("shop", thanks) in texts) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    welcome = demo["settings"]["welcome_message"].format(agent="Alice")
    assert [t for who, t in texts if who == "shopper"] == ["你好", "5"]
    shop_said = [t for who, t in texts if who == "shop"]
    assert shop_said[:2] == [welcome, "亲，在的"], texts
    assert "评分" in shop_said[2] and shop_said[3:] == [thanks], texts

    # The terminal stays readable: a line for each thing the bridge did, no narration of every
    # RQ job, no line per request (the shopper page polls each second), no traceback.
    terminal = (project.parent / "make-run.log").read_text().split("Demo logins", 1)[1]
    assert re.search(r"bridge\.delivery: message \d+: sent \(attempt 1\)", terminal), terminal
    assert "Traceback" not in terminal and "Job OK" not in terminal and "rq.worker" not in terminal, terminal
    assert "GET /demo/shopper" not in terminal and "/feed" not in terminal, terminal

    the_mini_program_as_printed(project, port, banner)


def readme_block(heading: str, lang: str) -> str:
    """The first ```LANG block after HEADING in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(rf"```{lang}\n(.*?)```", text[text.index(heading):], re.DOTALL).group(1)


def the_mini_program_as_printed(project: Path, port: int, banner: str) -> None:
    """The README shows what make run prints, the demo Mini Program's URLs among it: every line
    is printed; the printed webhook answers WeChat's GET check under the demo's token; and the
    README's Mini Program commands post to it and what comes back reaches the demo shopper's page."""
    local = lambda text: text.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(  # noqa: E731
        "localhost:8000", f"localhost:{port}")
    printed = [line.rstrip() for line in banner.splitlines()]
    for line in local(readme_block("and prints:", "")).splitlines():
        assert line.rstrip() in printed, f"the README shows {line!r}, make run did not print it:\n{banner}"
    base = f"http://127.0.0.1:{port}"
    assert f"  wechat_mp  {base}/hooks/wechat-mp/demo-mp" in printed
    assert f"  {base}/demo/shopper/demo-mp" in printed
    # the demo shop page, at localhost so that the widget from 127.0.0.1 runs cross-origin
    shop_page = requests.get(f"http://localhost:{port}/demo/shop/demo-web", timeout=5)
    assert shop_page.status_code == 200 and f'src="{base}/widget/demo-web/widget.js"' in shop_page.text
    assert requests.get(f"{base}/widget/demo-web/widget.js", timeout=5).status_code == 200
    # the demo shop's products, orders and coupons, for the agent's panel (demo/shop-data.json)
    assert "Demo shop data: 16 products, orders and coupons loaded" in banner, banner
    token = requests.post(f"{base}/api/v1/auth/login", timeout=5,
                          json={"shop": "demo", "username": "alice", "password": "alice-demo-pass"}).json()["token"]
    [dress] = requests.get(f"{base}/api/v1/products", params={"q": "连衣"}, timeout=5,
                           headers={"Authorization": f"Bearer {token}"}).json()["items"]
    picture = requests.get(dress["image"], timeout=5)
    assert dress["id"] == "P100" and picture.headers["Content-Type"].startswith("image/")

    demo = json.loads((project / "demo" / "shop.json").read_text(encoding="utf-8"))["shops"][0]
    [mp] = [c for c in demo["channels"] if c["kind"] == "wechat_mp"]
    args, _ = signed(mp["token"], {})
    check = requests.get(f"{base}/hooks/wechat-mp/demo-mp", params={**args, "echostr": "4375120948345356249"},
                         timeout=5)
    assert (check.status_code, check.text) == (200, "4375120948345356249")

    script = local(readme_block("## Mini Program (小程序)", "sh"))
    ran = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], check=False, cwd=project,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, f"the README's Mini Program commands failed:\n{ran.stdout}\n{ran.stderr}"
    assert ran.stdout.split() == ["HTTP", "200", "success", "success", "HTTP", "200", "success"], ran.stdout
    # alice, online since the quick start, is given the vip shopper; her welcome comes through
    # the stand-in's customer-service API (never as a passive reply), under the Mini Program's app
    welcome = demo["settings"]["welcome_message"].format(agent="Alice")
    deadline = time.monotonic() + 30
    while True:
        feed = requests.get(f"{base}/demo/shopper/demo-mp/feed", params={"openid": "o-shopper"}, timeout=5).json()
        got = [(e["via"], e["app_id"], e["msg"]) for e in feed["items"] if e["from"] == "shop"]
        if got or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert got == [("custom", mp["app_id"], {"msgtype": "text", "text": {"content": welcome}})], got
