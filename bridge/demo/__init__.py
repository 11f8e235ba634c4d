"""The demo sandbox: WeChat's API played by the bridge for sandbox channels, and a page that
shows one shopper's chat as their WeChat would. Served only in demo mode (`make run`, or
KEFU_DEMO_URL set); a sandbox channel never talks to the real WeChat, nor a real one to this."""
