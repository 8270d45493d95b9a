"""Settings that install the shared package alone, with no Switchboard app and no site (config/)."""

SECRET_KEY = "switchboard-alone-test-only"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.messages", "switchboard"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
