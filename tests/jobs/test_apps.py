"""JobsConfig.background_processes: the worker topology run_site keeps running for jobs."""

from django.apps import apps


def test_background_processes_are_one_scheduler_worker_per_queue_and_rqcron_without_options(settings):
    settings.JOBS_WORKER_QUEUES = ["high", "low"]
    config = apps.get_app_config("jobs")
    assert config.background_processes(python="py", manage="manage.py", options={}) == [
        ("worker-high-1", ["py", "manage.py", "jobs_worker", "high", "--with-scheduler"]),
        ("worker-low-1", ["py", "manage.py", "jobs_worker", "low", "--with-scheduler"]),
        ("cron", ["py", "manage.py", "jobs_cron"]),
    ]


def test_rq_workers_runs_that_many_workers_per_queue(settings):
    settings.JOBS_WORKER_QUEUES = ["default"]
    config = apps.get_app_config("jobs")
    names = [name for name, _ in config.background_processes(python="py", manage="m", options={"rq_workers": 3})]
    assert names == ["worker-default-1", "worker-default-2", "worker-default-3", "cron"]
