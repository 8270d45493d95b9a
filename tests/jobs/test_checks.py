"""System checks of the jobs app."""

from jobs.checks import check_settings


def test_default_settings_pass():
    assert check_settings() == []


def test_missing_queue_and_bad_catalog_are_errors(settings):
    settings.RQ_QUEUES = {"default": settings.RQ_QUEUES["default"]}
    ids = {error.id for error in check_settings()}
    assert ids == {"jobs.E002"}
    settings.JOBS_CATALOG = ["nowhere.SPEC"]
    assert [error.id for error in check_settings()] == ["jobs.E001"]


def test_missing_django_rq_urls_are_a_warning_with_the_include_to_add(settings):
    settings.ROOT_URLCONF = "tests.jobs.urls_without_rq"
    (warning,) = check_settings()
    assert warning.id == "jobs.W002"
    assert 'include("django_rq.urls")' in warning.hint


def test_jobs_without_django_rq_or_rq_queues_is_an_error_saying_what_to_add(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_rq"]
    assert [error.id for error in check_settings()] == ["jobs.E004"]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_rq"]
    del settings.RQ_QUEUES
    (error,) = check_settings()
    assert error.id == "jobs.E002" and "RQ_QUEUES = {" in error.hint


def test_bad_worker_pool_settings_are_errors(settings):
    settings.JOBS_WORKER_PROCESSES = 0
    settings.JOBS_WORKER_MAX_MEMORY_MB = "lots"
    errors = check_settings()
    assert [error.id for error in errors] == ["jobs.E003", "jobs.E003"]
    assert "JOBS_WORKER_PROCESSES is 0" in errors[0].msg and "JOBS_WORKER_MAX_MEMORY_MB" in errors[1].msg
    settings.JOBS_WORKER_PROCESSES = None
    settings.JOBS_WORKER_MAX_MEMORY_MB = 0
    assert check_settings() == []


def test_boards_without_a_read_permission_for_run_owners_is_a_warning(settings):
    del settings.BOARDS_READ_PERMISSION
    assert [warning.id for warning in check_settings()] == ["jobs.W001"]
