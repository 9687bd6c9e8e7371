"""This app's endpoints under /api/v1/ (included by kehu.api_urls)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

router = SimpleRouter()

urlpatterns = [path("", include(router.urls))]
