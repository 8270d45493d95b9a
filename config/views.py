"""The site's own pages: the home page (a card per installed app) and the login page."""

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_safe

from switchboard.providers import render_page, site_nav
from switchboard.registry import app_entries


def app_cards(request: HttpRequest, **_) -> dict:
    """One card per installed app that declares a blurb (AppConfig.blurb) and whose URLs are included."""
    blurbs = {entry.label: entry.blurb for entry in app_entries() if entry.blurb}
    cards = [
        {"label": item["label"], "url": item["url"], "blurb": blurbs[item["label"]]}
        for item in site_nav(request)["nav_items"]
        if item["label"] in blurbs
    ]
    return {"app_cards": cards}


HOME_PAGE = [app_cards]


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The landing page with a card per app."""
    return render_page(request, "home.html", HOME_PAGE)


def login_form(request: HttpRequest, *, form, next_url: str, retry_after: int = 0, **_) -> dict:
    """The sign-in form, where to go after it, and how long to wait when sign-ins are throttled."""
    return {"form": form, "next": next_url, "retry_after": retry_after}


LOGIN_PAGE = [login_form]


def login(request: HttpRequest) -> HttpResponse:
    """Sign in with Django's AuthenticationForm; redirect to a safe ``next`` afterwards."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    form = AuthenticationForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        auth_login(request, form.get_user())
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    retry_after = getattr(request, "login_retry_after", 0)  # switchboard.limits.LoginThrottleBackend refused it
    status = 429 if retry_after else 400 if request.method == "POST" else 200
    page = render_page(
        request, "registration/login.html", LOGIN_PAGE, status=status, form=form, next_url=next_url,
        retry_after=retry_after,
    )  # fmt: skip
    if retry_after:
        page["Retry-After"] = str(retry_after)
    return page
