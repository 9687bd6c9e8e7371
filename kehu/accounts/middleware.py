from django.conf import settings


class UserLanguageMiddleware:
    """The language the user picked (kept in the session and their profile) wins; otherwise the
    cookie, then the browser's Accept-Language decide (Django's LocaleMiddleware runs next)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.codes = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        lang = request.session.get("kehu_language") if hasattr(request, "session") else None
        if lang in self.codes:
            request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = lang
        response = self.get_response(request)
        return response
