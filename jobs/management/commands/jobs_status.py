"""Print a run's status and history (JSON with --json)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from jobs.history import history_sync
from jobs.selectors import run_as_dict, run_get, run_live


class Command(BaseCommand):
    help = "Show a job run: status, attempts, times, result or error (the id jobs_enqueue printed)."

    def add_arguments(self, parser):
        parser.add_argument("job_id")
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, job_id: str, json: bool, **options):
        history_sync()
        run = run_get(job_id=job_id)
        if run is None:
            raise CommandError(f"No run with id {job_id!r}: use the id jobs_enqueue printed (or see /jobs/).")
        data = run_as_dict(run=run, live=run_live(run=run))
        if json:
            self.stdout.write(_dumps(data))
            return
        lines = [
            f"{data['name']} {data['id']}: {data['status']}",
            f"  queue {data['queue']}, attempts {data['attempts']}, worker {data['worker'] or '-'}",
            f"  enqueued {data['enqueued_at']}, started {data['started_at'] or '-'}, ended {data['ended_at'] or '-'}",
        ]
        if data.get("progress"):
            p = data["progress"]
            lines.append(f"  progress {p['current']}/{p['total']} ({p['percent']}%) {p.get('message', '')}")
        if data["result"]:
            lines.append(f"  result {data['result']}")
        if data["error"]:
            lines.append(f"  error {data['error']}")
        self.stdout.write("\n".join(lines))


def _dumps(data) -> str:
    return json.dumps(data, indent=2, default=str)
