from django.urls import include, path
from rest_framework.routers import DefaultRouter

from kehu.accounts import api as accounts_api
from kehu.core import api_views as core_api

router = DefaultRouter()
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("departments", accounts_api.DepartmentViewSet, basename="department")
router.register("roles", accounts_api.RoleViewSet, basename="role")
router.register("login-log", accounts_api.LoginLogViewSet, basename="loginlog")
router.register("dictionary", core_api.DictEntryViewSet, basename="dictentry")
router.register("numbering-rules", core_api.NumberingRuleViewSet, basename="numberingrule")
router.register("audit-log", core_api.AuditEntryViewSet, basename="auditentry")
router.register("jobs", core_api.JobViewSet, basename="job")

app_name = "api"

urlpatterns = [
    path("auth/token/", accounts_api.ObtainTokenView.as_view(), name="token"),
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("", include(router.urls)),
]
