"""Recompute every balance from the whole log and check every settlement; non-zero exit on a mismatch."""

from django.core.management.base import BaseCommand, CommandError

from ledger.selectors import ledger_audit

SHOWN = 50


class Command(BaseCommand):
    help = "Recompute balances from the log (the recipe's SUM) and replay every decision; exits 1 on any mismatch."

    def handle(self, *args, **options):
        report = ledger_audit()
        for problem in report.problems[:SHOWN]:
            self.stderr.write(problem)
        summary = (
            f"{report.accounts} account(s), {report.settled} settled transfer(s), "
            f"{report.pending} pending, total {report.total}"
        )
        if not report.ok:
            raise CommandError(f"Audit FAILED with {len(report.problems)} problem(s): {summary}.")
        self.stdout.write(f"Audit OK: {summary}.")
