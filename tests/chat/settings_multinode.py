"""The site's settings for the multi-node test's web nodes: idle checks far apart, so what a reader gets in
time it got through its node's hub (live), not through the database catch-up behind the idle check."""

from config.settings import *  # noqa: F403

CHAT_IDLE_CHECK = 30.0
SWITCHBOARD_HUB_DOWN_POLL = 0.5
MAX_STREAMS_PER_CLIENT = 1000
