"""WeChat API access (adapters/wechat/api.py) against the fake WeChat server over real HTTP.

The access token is one per app, shared through Redis: these tests count the fetches the
fake sees, in one process and in several processes started together. Error codes are
checked for what the caller is told to do next: the contract's neutral outcome (retry
later, window closed, cap reached, final), with WeChat's code and message kept.
"""
from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
import redis

# Spawned processes import this module: it imports nothing of the app beyond adapters/
# and the channel contract they speak.
from adapters.wechat.api import TOKEN_EARLY_REFRESH, WeChatAPI
from bridge.channels.contract import RetryLater, SendFailed
from tests.fake_wechat import ERRMSG, FakeWeChat

APP_ID, SECRET = "wx00000000000000a1", "secret-a1"  # registered in the fake by its fixture
PREFIX = "{shop:1}"
SEND = "/cgi-bin/message/custom/send"
TOKEN = "/cgi-bin/stable_token"
TEXT = {"touser": "o-api", "msgtype": "text", "text": {"content": "hi"}}
PROCESSES = 4


# -- helpers -----------------------------------------------------------------------------------

@pytest.fixture
def conn(redis_url: str | None) -> redis.Redis:
    if redis_url is None:
        import fakeredis

        return fakeredis.FakeRedis()
    return redis.Redis.from_url(redis_url)


def make_api(fake: FakeWeChat, conn: redis.Redis, secret: str = SECRET, timeout: float = 2.0) -> WeChatAPI:
    return WeChatAPI(fake.url, APP_ID, secret, conn, key_prefix=PREFIX, timeout=timeout)


def token_calls(fake: FakeWeChat) -> list[dict[str, Any]]:
    return [c.json for c in fake.calls if c.path == TOKEN]


# -- one process -------------------------------------------------------------------------------

def test_token_is_fetched_once_and_shared_through_redis(fake_wechat, conn):
    first, second = make_api(fake_wechat, conn), make_api(fake_wechat, conn)

    token = first.access_token()
    assert second.access_token() == token
    second.post_json(SEND, TEXT)

    assert fake_wechat.token_fetches() == 1
    assert token_calls(fake_wechat) == [{"grant_type": "client_credential", "appid": APP_ID,
                                         "secret": SECRET, "force_refresh": False}]
    assert fake_wechat.sent() == [TEXT]
    assert fake_wechat.calls[-1].query["access_token"] == token


def test_token_is_kept_in_the_shops_hash_slot_and_dropped_before_wechat_expires_it(fake_wechat, conn):
    token = make_api(fake_wechat, conn).access_token()

    key = f"{PREFIX}:wechat:{APP_ID}:access_token"
    assert conn.get(key) == token.encode()
    assert 0 < conn.ttl(key) <= 7200 - TOKEN_EARLY_REFRESH


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_error_refreshes_once_and_retries_once(fake_wechat, conn, errcode):
    api = make_api(fake_wechat, conn)
    old = api.access_token()
    if errcode == 42001:
        fake_wechat.expire_tokens()  # WeChat's own answer to an expired token
    else:
        fake_wechat.fail_next(SEND, errcode)

    api.post_json(SEND, TEXT)

    assert fake_wechat.token_fetches() == 2
    assert token_calls(fake_wechat)[1]["force_refresh"] is True
    sends = [c for c in fake_wechat.calls if c.path == SEND]
    assert [c.query["access_token"] == old for c in sends] == [True, False]
    assert conn.get(f"{PREFIX}:wechat:{APP_ID}:access_token").decode() == sends[1].query["access_token"]


def test_second_token_error_in_a_row_is_final(fake_wechat, conn):
    api = make_api(fake_wechat, conn)
    fake_wechat.fail_next(SEND, 40001, times=2)

    with pytest.raises(SendFailed) as err:
        api.post_json(SEND, TEXT)

    assert (err.value.code, err.value.outcome) == ("40001", "final")
    assert fake_wechat.token_fetches() == 2
    assert len(fake_wechat.sent()) == 2


@pytest.mark.parametrize(("errcode", "outcome"), [
    (-1, "retry_later"), (45011, "retry_later"), (45015, "window_closed"), (45047, "cap_reached"),
    (40003, "final"), (48001, "final")])
def test_error_code_says_what_to_do_next(fake_wechat, conn, errcode, outcome):
    api = make_api(fake_wechat, conn)
    fake_wechat.fail_next(SEND, errcode)

    with pytest.raises(SendFailed) as err:
        api.post_json(SEND, TEXT)

    assert (err.value.code, err.value.outcome) == (str(errcode), outcome)
    assert err.value.message == ERRMSG[errcode]
    assert len(fake_wechat.sent()) == 1  # the client itself never retries these
    assert fake_wechat.token_fetches() == 1


def test_timeout_is_a_retryable_network_error(fake_wechat, conn):
    api = make_api(fake_wechat, conn, timeout=0.5)
    api.access_token()
    fake_wechat.slow(SEND, 3.0)

    with pytest.raises(SendFailed) as err:
        api.post_json(SEND, TEXT)

    assert (err.value.code, err.value.outcome) == ("network", "retry_later")


def test_refused_token_fetch_is_final_and_leaves_no_lock(fake_wechat, conn):
    with pytest.raises(SendFailed) as err:
        make_api(fake_wechat, conn, secret="wrong").post_json(SEND, TEXT)
    assert (err.value.code, err.value.outcome) == ("40125", "final")
    assert conn.get(f"{PREFIX}:wechat:{APP_ID}:token_lock") is None
    assert conn.get(f"{PREFIX}:wechat:{APP_ID}:access_token") is None

    make_api(fake_wechat, conn).post_json(SEND, TEXT)  # no one is left waiting on a dead lock

    assert fake_wechat.sent() == [TEXT]


def test_image_upload_is_multipart_field_media_of_type_image(fake_wechat, conn):
    body = make_api(fake_wechat, conn).upload(
        "/cgi-bin/media/upload", {"type": "image"}, {"media": ("a.png", b"\x89PNG-bytes", "image/png")})

    upload = [c for c in fake_wechat.calls if c.path == "/cgi-bin/media/upload"]
    assert len(upload) == 1
    assert upload[0].query["type"] == "image" and upload[0].files == {"media": b"\x89PNG-bytes"}
    assert body["type"] == "image" and body["media_id"]


def test_upload_after_a_token_error_sends_the_whole_file_again(fake_wechat, conn):
    api = make_api(fake_wechat, conn)
    fake_wechat.fail_next("/cgi-bin/media/upload", 40001)

    body = api.upload("/cgi-bin/media/upload", {"type": "image"},
                      {"media": ("a.png", b"\x89PNG-bytes", "image/png")})

    upload = [c for c in fake_wechat.calls if c.path == "/cgi-bin/media/upload"]
    assert [c.files for c in upload] == [{"media": b"\x89PNG-bytes"}] * 2
    assert fake_wechat.token_fetches() == 2 and body["media_id"]


# -- several processes at once -----------------------------------------------------------------

def _token_in_process(base_url: str, redis_url: str, start: Any, results: Any, send: bool) -> None:
    """One process of the deployment: its own client and connection, started with the others."""
    api = WeChatAPI(base_url, APP_ID, SECRET, redis.Redis.from_url(redis_url), key_prefix=PREFIX)
    start.wait()
    try:
        if send:
            api.post_json(SEND, TEXT)
        results.put(("ok", api.access_token()))
    except Exception as exc:  # noqa: BLE001 — report it to the test instead of dying quietly
        results.put(("error", repr(exc)))


def run_processes(fake: FakeWeChat, redis_url: str, send: bool) -> list[tuple[str, str]]:
    """PROCESSES spawned processes, all released together by a barrier; their results."""
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(PROCESSES, timeout=60), ctx.Queue()
    procs = [ctx.Process(target=_token_in_process, args=(fake.url, redis_url, start, results, send))
             for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    return got


def test_processes_starting_together_fetch_one_token(fake_wechat, real_redis_url):
    # A slow token endpoint keeps the first fetch open while the others ask.
    fake_wechat.slow(TOKEN, 0.5)

    got = run_processes(fake_wechat, real_redis_url, send=False)

    assert [status for status, _ in got] == ["ok"] * PROCESSES, got
    assert len({token for _, token in got}) == 1
    assert fake_wechat.token_fetches() == 1


def test_token_error_in_several_processes_leads_to_one_refresh(fake_wechat, real_redis_url):
    make_api(fake_wechat, redis.Redis.from_url(real_redis_url)).access_token()
    fake_wechat.expire_tokens()  # the shared token is now refused with 42001
    fake_wechat.slow(TOKEN, 0.5)

    got = run_processes(fake_wechat, real_redis_url, send=True)

    assert [status for status, _ in got] == ["ok"] * PROCESSES, got
    assert len({token for _, token in got}) == 1
    assert [c["force_refresh"] for c in token_calls(fake_wechat)] == [False, True]
    assert len(fake_wechat.sent()) >= PROCESSES


def test_a_token_store_that_does_not_answer_is_a_retry_before_any_call(fake_wechat, conn):
    """Redis frozen or gone while a send looks up its token: nothing went to WeChat, so the
    send is a retry (not an exception that leaves the outbox row `sending`, later `unknown`)."""
    class Frozen(redis.Redis):
        def execute_command(self, *args, **options):
            raise redis.TimeoutError("Timeout reading from socket")

    api = WeChatAPI(fake_wechat.url, APP_ID, SECRET, Frozen(), key_prefix=PREFIX, timeout=2.0)
    with pytest.raises(RetryLater) as err:
        api.post_json(SEND, TEXT)
    assert err.value.code == "token_store"
    assert fake_wechat.calls == []
