from django.db.models import Q
from django.urls import reverse

from kehu.core.scopes import visible_to

from .models import User


def search_users(user, text, limit):
    qs = visible_to(User.objects.select_related("department"), user).filter(
        Q(username__icontains=text) | Q(full_name__icontains=text) | Q(phone__icontains=text)
    )[:limit]
    return [
        {
            "title": u.display_name,
            "subtitle": u.department.name if u.department else u.username,
            "url": reverse("accounts:user_detail", args=[u.pk]),
        }
        for u in qs
    ]
