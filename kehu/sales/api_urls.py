"""This app's endpoints under /api/v1/ (included by kehu.api_urls)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("opportunities", api.OpportunityViewSet, basename="opportunity")
router.register("plan-items", api.PlanItemViewSet, basename="planitem")
router.register("stages", api.StageViewSet, basename="stage")
router.register("campaigns", api.CampaignViewSet, basename="campaign")
router.register("mailings", api.MailingViewSet, basename="mailing")
router.register("mailing-recipients", api.RecipientViewSet, basename="recipient")

urlpatterns = [
    path("sales-forecast/", api.ForecastView.as_view(), name="sales-forecast"),
    path("sales-board/", api.BoardView.as_view(), name="sales-board"),
    path("", include(router.urls)),
]
