"""Login log (系统日志): every success, failure, lock-out and log-out."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_delete
from django.dispatch import receiver

from kehu.core.http import client_ip

from .models import LoginLog, Right, Role, new_access_stamp


def _channel(request) -> str:
    return "api" if request is not None and request.path.startswith("/api/") else "web"


def _record(event, request, username, user=None):
    LoginLog.objects.create(
        event=event,
        username=(username or "")[:150],
        user=user,
        ip=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:300],
        channel=_channel(request),
    )


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    if request is None:  # force_login in tests and scripts
        return
    _record(LoginLog.Event.SUCCESS, request, user.get_username(), user)
    if user.language and hasattr(request, "session"):
        request.session["kehu_language"] = user.language


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None and request is not None:
        _record(LoginLog.Event.LOGOUT, request, user.get_username(), user)


@receiver(user_login_failed)
def on_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username", "")
    user = get_user_model().objects.filter(username=username).first()
    _record(LoginLog.Event.FAILURE, request, username, user)


@receiver(user_locked_out)
def on_locked_out(sender, request, username, ip_address, **kwargs):
    user = get_user_model().objects.filter(username=username).first()
    _record(LoginLog.Event.LOCKED, request, username, user)


def lockout_response(request, response=None, credentials=None, *args, **kwargs):
    """What a locked-out client gets: the lock-out page, or the API's error shape under /api/."""
    from django.http import JsonResponse
    from django.shortcuts import render
    from django.utils.translation import gettext as _

    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "locked_out", "message": _("Too many failed log-ins; try again later."), "details": {}},
            status=429,
        )
    return render(request, "accounts/locked_out.html", status=429)


# --- the access stamp: roles and rights are cached under it (User._access) ----------------------


def _restamp(user_ids) -> None:
    """A new stamp for these users (one for all: the cache key holds the user's id as well)."""
    from .models import User

    User.objects.filter(pk__in=list(user_ids)).update(access_stamp=new_access_stamp())


def _restamp_role_users(role_ids) -> None:
    from .models import User

    _restamp(User.objects.filter(roles__in=list(role_ids)).values_list("pk", flat=True).distinct())


@receiver(m2m_changed, sender=get_user_model().roles.through)
def user_roles_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    from .models import User

    if not reverse:  # user.roles.…: this user; the object in hand learns its new stamp too
        stamp = new_access_stamp()
        User.objects.filter(pk=instance.pk).update(access_stamp=stamp)
        instance.access_stamp = stamp
        instance.forget_access()
    elif action == "pre_clear":  # role.users.clear(): the users are known only before
        _restamp(instance.users.values_list("pk", flat=True))
    elif pk_set:  # role.users.add/remove(...)
        _restamp(pk_set)


@receiver(m2m_changed, sender=Role.rights.through)
def role_rights_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:  # role.rights.…
        _restamp_role_users([instance.pk])
    elif action == "pre_clear":  # right.roles.clear()
        _restamp_role_users(instance.roles.values_list("pk", flat=True))
    elif pk_set:  # right.roles.add/remove(...)
        _restamp_role_users(pk_set)


@receiver(post_save, sender=Role)
def role_saved(sender, instance, created, **kwargs):
    if not created:  # scope, read-only or name may have changed
        _restamp_role_users([instance.pk])


@receiver(pre_delete, sender=Role)
def role_deleted(sender, instance, **kwargs):
    _restamp_role_users([instance.pk])


@receiver(pre_delete, sender=Right)
def right_deleted(sender, instance, **kwargs):
    _restamp_role_users(instance.roles.values_list("pk", flat=True))
