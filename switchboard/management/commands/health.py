"""Print the site's health report (the same JSON as GET /health); exit status 1 when unhealthy."""

from __future__ import annotations

import asyncio
import json
import sys

from django.core.management.base import BaseCommand

from switchboard.health import health_report
from switchboard.hub import get_hub


class Command(BaseCommand):
    help = (
        "Check the database, Redis, the pub/sub hub (one is started in this process) and the installed apps' "
        "health checks; print the JSON report GET /health serves. Exit status 1 when a check fails."
    )

    def handle(self, *args, **options):
        data = asyncio.run(self._report())
        self.stdout.write(json.dumps(data, indent=2))
        if not data["healthy"]:
            failed = ", ".join(name for name, check in data["checks"].items() if not check["ok"])
            self.stderr.write(f"Unhealthy: {failed}.")
            sys.exit(1)

    @staticmethod
    async def _report() -> dict:
        try:
            return await health_report()
        finally:
            await get_hub().close()
