from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from kehu.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("kehu.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("accounts/", include("kehu.accounts.urls")),
    path("customers/", include("kehu.customers.urls")),
    path("sales/", include("kehu.sales.urls")),
    path("products/", include("kehu.catalog.urls")),
    path("inventory/", include("kehu.inventory.urls")),
    path("", include("kehu.core.urls")),
]

handler403 = "kehu.core.errors_views.forbidden"
handler404 = "kehu.core.errors_views.not_found"
