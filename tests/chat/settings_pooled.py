"""The site's settings with idle checks every 0.2 s: each one is a database read through db_call."""

from config.settings import *  # noqa: F403

CHAT_IDLE_CHECK = 0.2
MAX_STREAMS_PER_CLIENT = 1000
