"""Enqueue a catalog job from the command line: jobs_enqueue countdown --param steps=5 --in 30s."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from jobs.catalog import UnknownJob
from jobs.errors import InvalidParameters, JobsError
from jobs.services import job_enqueue

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> float:
    """'30', '30s', '5m', '2h', '1d', '500ms' -> seconds."""
    match = DURATION.match(text.strip())
    if not match:
        raise CommandError(f"--in {text!r} is not a duration: use e.g. 30, 30s, 5m, 2h or 1d.")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {pair!r} is not key=value.")
        params[key] = value
    return params


class Command(BaseCommand):
    help = "Enqueue a job of the catalog (see GET /jobs/) and print its id."

    def add_arguments(self, parser):
        parser.add_argument("name", help="catalog job name, e.g. countdown")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a job parameter")
        parser.add_argument("--in", dest="delay", default=None, metavar="DURATION", help="run after 30s, 5m, ...")
        parser.add_argument("--user", default=None, help="username to record as the run's owner")

    def handle(self, *args, name: str, param: list[str], delay: str | None, user: str | None, **options):
        owner = None
        if user:
            try:
                owner = get_user_model().objects.get_by_natural_key(user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user {user!r}: create it or leave --user out.")
        try:
            run = job_enqueue(
                name=name, params=parse_params(param), owner=owner, delay=parse_duration(delay) if delay else None
            )
        except UnknownJob as exc:
            raise CommandError(str(exc))
        except InvalidParameters as exc:
            details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
            raise CommandError(f"{exc} {details}")
        except JobsError as exc:
            raise CommandError(str(exc))
        self.stdout.write(run.job_id)
        if options["verbosity"] > 1:
            self.stderr.write(f"{run.name} {run.status} on queue {run.queue}")
