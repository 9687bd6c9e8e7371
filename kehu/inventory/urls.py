from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "inventory"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inventory:stock"), name="home"),
    path("stock/", views.stock, name="stock"),
    path("moves/", views.moves, name="moves"),
    path("receipts/", views.receipts, name="receipts"),
    path("receipts/new/", views.note_form, {"kind": "receipt"}, name="receipt_create"),
    path("issues/", views.issues, name="issues"),
    path("issues/new/", views.note_form, {"kind": "issue"}, name="issue_create"),
    path("notes/<int:pk>/", views.note_detail, name="note_detail"),
    path("notes/<int:pk>/edit/", views.note_form, name="note_edit"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/new/", views.transfer_form, name="transfer_create"),
    path("transfers/<int:pk>/", views.transfer_detail, name="transfer_detail"),
    path("transfers/<int:pk>/edit/", views.transfer_form, name="transfer_edit"),
    path("stocktakes/", views.stocktakes, name="stocktakes"),
    path("stocktakes/new/", views.stocktake_create, name="stocktake_create"),
    path("stocktakes/<int:pk>/", views.stocktake_detail, name="stocktake_detail"),
    path("stocktakes/<int:pk>/scan/", views.stocktake_scan, name="stocktake_scan"),
    path("serials/", views.serials, name="serials"),
    path("serials/check/", views.serial_check, name="serial_check"),
    path("serials/generate/", views.serial_generate, name="serial_generate"),
    path("serials/labels/", views.serial_labels, name="serial_labels"),
    path("serials/<int:pk>/", views.serial_detail, name="serial_detail"),
    path("product-options/", views.product_options, name="product_options"),
    path("customer-options/", views.customer_options, name="customer_options"),
    path("alerts/", views.alerts, name="alerts"),
    path("summary/", views.monthly, name="monthly"),
    path("recall/", views.recall, name="recall"),
    path("recall/export/", views.recall_export, name="recall_export"),
    path("recall/product-options/", views.recall_product_options, name="recall_product_options"),
    path("jobs/<uuid:pk>/file/", views.job_file, name="job_file"),
    path("warehouses/", views.warehouses, name="warehouses"),
    path("warehouses/new/", views.warehouse_form, name="warehouse_create"),
    path("warehouses/<int:pk>/", views.warehouse_detail, name="warehouse_detail"),
    path("warehouses/<int:pk>/edit/", views.warehouse_form, name="warehouse_edit"),
]
