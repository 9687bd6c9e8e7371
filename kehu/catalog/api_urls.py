"""This app's endpoints under /api/v1/ (included by kehu.api_urls)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("products", api.ProductViewSet, basename="product")
router.register("product-categories", api.CategoryViewSet, basename="product-category")

urlpatterns = [path("", include(router.urls))]
