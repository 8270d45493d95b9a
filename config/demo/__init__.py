"""The demo site's data, one module per app (config.demo.<app label>.demo_load), loaded by manage.py demo_setup."""
