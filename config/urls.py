"""Site URLs: each app under its own prefix, auth, the admin and django-rq's dashboard."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.decorators.csp import csp_override

from config import views as site_views
from switchboard.api import api_urls
from switchboard.health import health_view


def rq_dashboard_urls():
    """django-rq's dashboard, whose third-party templates carry inline scripts and styles: only these staff
    pages get 'unsafe-inline' added to the site's SECURE_CSP (every other page keeps the strict policy)."""
    import django_rq.urls

    relaxed = {**settings.SECURE_CSP}
    for directive in ("script-src", "style-src"):
        relaxed[directive] = [*relaxed.get(directive, ["'self'"]), "'unsafe-inline'"]
    for pattern in django_rq.urls.urlpatterns:
        if getattr(pattern, "callback", None) is not None and not getattr(pattern.callback, "_csp_relaxed", False):
            pattern.callback = csp_override(relaxed)(pattern.callback)
            pattern.callback._csp_relaxed = True
    return django_rq.urls


admin.site.index_template = "admin/site_index.html"  # the admin's index links to the operations page

urlpatterns = [
    path("", site_views.home, name="home"),
    path("health", health_view, name="health"),
    path("api/", api_urls()),  # the apps' JSON API: the routers of SWITCHBOARD_API_ROUTERS
    path("ops/", site_views.ops, name="ops"),
    path("accounts/login/", site_views.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/rq/", include(rq_dashboard_urls())),
    path("admin/", admin.site.urls),
    path("boards/", include("boards.urls")),
    path("chat/", include("chat.urls")),
    path("jobs/", include("jobs.urls")),
    path("ledger/", include("ledger.urls")),
]
