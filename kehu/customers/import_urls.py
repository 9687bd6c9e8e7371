from django.urls import path

from . import import_views

urlpatterns = [
    path("", import_views.import_start, name="import"),
    path("template.xlsx", import_views.import_template, name="import_template"),
    path("<uuid:pk>/", import_views.import_review, name="import_review"),
    path("<uuid:pk>/errors.xlsx", import_views.import_errors, name="import_errors"),
]
