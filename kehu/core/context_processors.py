from django.conf import settings


def shell(request):
    user = getattr(request, "user", None)
    ctx = {"KEHU_NAME": settings.KEHU_NAME, "KEHU_VERSION": settings.KEHU_VERSION}
    if user is not None and user.is_authenticated:
        from kehu.core.selectors import menu_for

        ctx["menu"] = menu_for(user)
    return ctx
