from django.urls import include, path
from rest_framework.routers import DefaultRouter

from kehu.accounts import api as accounts_api
from kehu.core import api_views as core_api
from kehu.customers import api as customers_api

router = DefaultRouter()
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("departments", accounts_api.DepartmentViewSet, basename="department")
router.register("roles", accounts_api.RoleViewSet, basename="role")
router.register("login-log", accounts_api.LoginLogViewSet, basename="loginlog")
router.register("dictionary", core_api.DictEntryViewSet, basename="dictentry")
router.register("numbering-rules", core_api.NumberingRuleViewSet, basename="numberingrule")
router.register("audit-log", core_api.AuditEntryViewSet, basename="auditentry")
router.register("jobs", core_api.JobViewSet, basename="job")
router.register("customers", customers_api.CustomerViewSet, basename="customer")
router.register("contacts", customers_api.ContactViewSet, basename="contact")
router.register("activities", customers_api.ActivityViewSet, basename="activity")
router.register("field-visits", customers_api.FieldVisitViewSet, basename="fieldvisit")
router.register("documents", customers_api.DocumentViewSet, basename="document")
router.register("churn-cases", customers_api.ChurnCaseViewSet, basename="churncase")

app_name = "api"

urlpatterns = [
    path("auth/token/", accounts_api.ObtainTokenView.as_view(), name="token"),
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("caller-id/", customers_api.CallerIdView.as_view(), name="caller-id"),
    path("", include("kehu.sales.api_urls")),
    path("", include("kehu.catalog.api_urls")),
    path("", include("kehu.inventory.api_urls")),
    path("", include(router.urls)),
]
