"""This app's endpoints under /api/v1/ (included by kehu.api_urls), all under inventory/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("inventory/warehouses", api.WarehouseViewSet, basename="inventory-warehouse")
router.register("inventory/stock", api.StockViewSet, basename="inventory-stock")
router.register("inventory/moves", api.MoveViewSet, basename="inventory-move")
router.register("inventory/notes", api.NoteViewSet, basename="inventory-note")
router.register("inventory/transfers", api.TransferViewSet, basename="inventory-transfer")
router.register("inventory/stocktakes", api.StocktakeViewSet, basename="inventory-stocktake")
router.register("inventory/serials", api.SerialViewSet, basename="inventory-serial")
router.register("inventory/safety-stock", api.SafetyStockViewSet, basename="inventory-safety")

urlpatterns = [
    path("inventory/alerts/", api.AlertsView.as_view(), name="inventory-alerts"),
    path("inventory/stock-summary/", api.MonthlyView.as_view(), name="inventory-stock-summary"),
    path("inventory/recall/", api.RecallView.as_view(), name="inventory-recall"),
    path("", include(router.urls)),
]
