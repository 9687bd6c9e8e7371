"""系统参数: the parameters modules declare (public pool rules, churn months…), edited by administrators."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from kehu.core.errors import DomainError
from kehu.core.models import Setting
from kehu.core.registry import registry
from kehu.core.selectors import history_for
from kehu.core.settings_store import get_setting, set_setting

RIGHT = "system.settings"


class SettingsForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, d in sorted(registry.settings.items()):
            self.fields[key] = forms.IntegerField(
                label=d.label,
                min_value=d.minimum,
                max_value=d.maximum,
                initial=get_setting(key),
                help_text=d.help or (_("Default: %(v)s") % {"v": d.default}),
            )


@login_required
def settings_page(request):
    if not request.user.has_right(RIGHT) or (request.method == "POST" and request.user.is_read_only):
        raise PermissionDenied
    form = SettingsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            for key, value in form.cleaned_data.items():
                if value != get_setting(key):
                    set_setting(key, value, by=request.user)
        except DomainError as exc:
            form.add_error(exc.details.get("field"), str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("core:settings")
    rows = Setting.objects.all()
    history = sorted(
        (e for row in rows for e in history_for(row, limit=20)), key=lambda e: e.timestamp, reverse=True
    )[:30]
    return render(
        request,
        "core/settings.html",
        {
            "title": _("System settings"),
            "form": form,
            "history": history,
            "breadcrumbs": [(_("System management"), None), (_("System settings"), None)],
        },
    )
