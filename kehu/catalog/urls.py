from django.urls import path

from . import import_views, views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="list"),
    path("new/", views.product_create, name="create"),
    path("duplicates/", views.duplicate_check, name="duplicate_check"),
    path("labels/", views.product_labels, name="labels"),
    path("<int:pk>/", views.product_detail_view, name="detail"),
    path("<int:pk>/edit/", views.product_edit, name="edit"),
    path("<int:pk>/archive/", views.product_archive, name="archive"),
    path("<int:pk>/restore/", views.product_restore, name="restore"),
    path("<int:pk>/discontinue/", views.product_discontinue, name="discontinue"),
    path("<int:pk>/reactivate/", views.product_reactivate, name="reactivate"),
    path("<int:pk>/images/", views.image_upload, name="image_upload"),
    path("images/<int:pk>/", views.image_file, name="image"),
    path("images/<int:pk>/delete/", views.image_delete, name="image_delete"),
    path("images/<int:pk>/main/", views.image_main, name="image_main"),
    path("categories/", views.category_list, name="categories"),
    path("categories/<int:pk>/edit/", views.category_edit, name="category_edit"),
    path("categories/<int:pk>/delete/", views.category_delete, name="category_delete"),
    path("import/", import_views.import_start, name="import"),
    path("import/template/", import_views.import_template, name="import_template"),
    path("import/<uuid:pk>/", import_views.import_review, name="import_review"),
    path("import/<uuid:pk>/errors/", import_views.import_errors, name="import_errors"),
]
