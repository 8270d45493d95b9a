"""Settle pending transfers (those left by crashed processes), once or in a loop."""

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from ledger.conf import setting
from ledger.services import transfers_resolve


class Command(BaseCommand):
    help = "Settle pending transfers oldest first; --loop keeps doing it every --interval seconds until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep resolving until SIGTERM or Ctrl-C")
        parser.add_argument(
            "--interval", type=float, default=None, help="seconds between rounds (LEDGER_RESOLVE_INTERVAL)"
        )

    def handle(self, *args, loop: bool, interval: float | None, **options):
        interval = setting("LEDGER_RESOLVE_INTERVAL") if interval is None else interval
        if interval < 0:
            raise CommandError(f"--interval {interval} is negative: give seconds, 0 or more.")
        if not loop:
            self.stdout.write(f"Settled {transfers_resolve()} pending transfer(s).")
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        total = 0
        self.stdout.write(f"Resolving pending transfers every {interval} s until stopped (SIGTERM or Ctrl-C).")
        self.stdout.flush()
        try:
            while not stopping:
                settled = transfers_resolve()
                total += settled
                if settled:
                    self.stdout.write(f"Settled {settled} pending transfer(s).")
                    self.stdout.flush()
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"Stopped after settling {total} pending transfer(s).")
