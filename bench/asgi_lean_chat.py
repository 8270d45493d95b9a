"""config.asgi with the chat SSE stream on the lean path too (no middleware, no per-request thread).

bench_chat.py's "uvicorn-lean" server. Under Django's full handler each open stream holds a thread of
its own (the per-request ThreadSensitiveContext, for the sync middleware): about 60 KB and a scheduling
cost per subscriber, which rules out 10,000 subscribers in one process. Not the shipped default yet:
with it, Ctrl-C with a chat stream open sometimes took 5-10 s in tests/site/test_shipped.py.
"""

from bench import census
from boards.asgi import lean_paths, lean_router
from config.asgi import django_application
from switchboard.fanout import capture_send
from switchboard.limits import body_size_limit

LEAN_PATHS = rf"{lean_paths()}|^/chat/[-a-zA-Z0-9_]+/stream$"
application = body_size_limit(capture_send(lean_router(django_application, pattern=LEAN_PATHS)))
census.install()  # bench_chat.py --census
