from django.conf import settings


def shell(request):
    user = getattr(request, "user", None)
    ctx = {"KEHU_NAME": settings.KEHU_NAME, "KEHU_VERSION": settings.KEHU_VERSION}
    if user is not None and user.is_authenticated:
        from kehu.core.selectors import menu_for

        ctx["menu"] = _with_active(menu_for(user), request.path)
    return ctx


def _with_active(groups: list[dict], path: str) -> list[dict]:
    """Each entry with its URL; the one entry whose URL is the longest prefix of the page's path is
    active (the board at /sales/board/ lights up the board, not also the list at /sales/)."""
    from django.urls import NoReverseMatch, reverse

    best, best_len = None, 0
    out = []
    for g in groups:
        entries = []
        for e in g["entries"]:
            try:
                url = reverse(e.url_name)
            except NoReverseMatch:
                continue
            item = {"url": url, "url_name": e.url_name, "icon": e.icon, "label": e.label, "active": False}
            if url != "/" and path.startswith(url) and len(url) > best_len:
                best, best_len = item, len(url)
            entries.append(item)
        out.append({**g, "entries": entries})
    if best is not None:
        best["active"] = True
    return out
