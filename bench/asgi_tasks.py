"""config.asgi without switchboard.fanout's direct writes: each SSE frame is yielded by its subscriber's task.

The baseline of bench_chat.py's "uvicorn-tasks" server (the fan-out path before direct writes).
"""

from boards.asgi import lean_router
from config.asgi import django_application
from switchboard.limits import body_size_limit

application = body_size_limit(lean_router(django_application))
