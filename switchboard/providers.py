"""Context providers: plain callables that each return a dict, merged in an explicit order.

A page is a list of providers, like TEMPLATES' context_processors but per view::

    ROOM_PAGE = [room_header, recent_messages, post_form]
    return render_page(request, "myapp/room.html", ROOM_PAGE, room=room)

Site-wide providers (navigation, the signed-in user, flash messages) come first, from the
SWITCHBOARD_SITE_PROVIDERS setting (dotted paths, resolved when used and cached; the cache is
cleared on setting_changed so override_settings works). Providers only read. Two providers of one
page must not write the same key: that raises ProviderCollision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from switchboard.registry import app_entries

Provider = Callable[..., dict[str, Any]]

SITE_PROVIDERS_DEFAULT = [
    "switchboard.providers.site_nav",
    "switchboard.providers.signed_in_user",
    "switchboard.providers.flash_messages",
]


class ProviderCollision(ImproperlyConfigured):
    """Two providers of one page returned the same context key."""


def build_context(request: HttpRequest, providers: Iterable[Provider], **kwargs: Any) -> dict[str, Any]:
    """Call each provider in order with the request and kwargs; merge their dicts, refusing collisions."""
    context: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for provider in providers:
        produced = provider(request, **kwargs)
        name = getattr(provider, "__qualname__", repr(provider))
        for key in produced:
            if key in owner:
                raise ProviderCollision(
                    f"Context key {key!r} is provided by both {owner[key]} and {name}: "
                    "rename one of them or drop one provider from the list."
                )
            owner[key] = name
        context.update(produced)
    return context


def providers_from_setting(name: str, default: Sequence[str]) -> list[Provider]:
    """Resolve a settings list of dotted provider paths (cached until the setting changes)."""
    return list(_resolve(name, tuple(getattr(settings, name, default))))


@functools.cache
def _resolve(name: str, paths: tuple[str, ...]) -> tuple[Provider, ...]:
    try:
        return tuple(import_string(path) for path in paths)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name} names a provider that cannot be imported: {exc}") from exc


@receiver(setting_changed)
def _clear_cache(**kwargs: Any) -> None:
    _resolve.cache_clear()


def site_providers() -> list[Provider]:
    """The site-wide providers every page starts with."""
    return providers_from_setting("SWITCHBOARD_SITE_PROVIDERS", SITE_PROVIDERS_DEFAULT)


def render_page(
    request: HttpRequest,
    template: str,
    providers: Iterable[Provider],
    *,
    status: int = 200,
    **kwargs: Any,
) -> HttpResponse:
    """Render a template with the site-wide providers, then the page's own, in order."""
    context = build_context(request, [*site_providers(), *providers], **kwargs)
    return render(request, template, context, status=status)


# -- site-wide providers ------------------------------------------------------------------------
def site_nav(request: HttpRequest, **_: Any) -> dict[str, Any]:
    """The site's links: each installed app that declares a nav entry (AppConfig.nav_url), then
    SWITCHBOARD_NAV_EXTRA's (label, URL name) pairs; names the host's URLconf does not know are skipped.

    Also the home, login and logout URLs the base template links to (SWITCHBOARD_HOME_URL, LOGIN_URL,
    SWITCHBOARD_LOGOUT_URL; a logout URL that does not resolve hides the button).
    """
    items = []
    path = request.path
    pairs = [(entry.label, entry.url_name) for entry in app_entries()]
    for label, url_name in [*pairs, *getattr(settings, "SWITCHBOARD_NAV_EXTRA", [])]:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": path.startswith(url) and url != "/"})
    return {
        "nav_items": items,
        "site_name": getattr(settings, "SWITCHBOARD_SITE_NAME", "Switchboard"),
        "site_urls": {
            "home": _url_or_none(getattr(settings, "SWITCHBOARD_HOME_URL", "/")) or "/",
            "login": _url_or_none(settings.LOGIN_URL),
            "logout": _url_or_none(getattr(settings, "SWITCHBOARD_LOGOUT_URL", "logout")),
        },
    }


def _url_or_none(name_or_url: str) -> str | None:
    """resolve_url(), or None for a URL name the URLconf does not know."""
    try:
        return resolve_url(name_or_url)
    except NoReverseMatch:
        return None


def signed_in_user(request: HttpRequest, **_: Any) -> dict[str, Any]:
    """The signed-in user, or None for an anonymous visitor."""
    user = getattr(request, "user", None)
    return {"viewer": user if user is not None and user.is_authenticated else None}


def flash_messages(request: HttpRequest, **_: Any) -> dict[str, Any]:
    """Flash messages queued with django.contrib.messages for this request."""
    return {"flash": list(messages.get_messages(request))}
