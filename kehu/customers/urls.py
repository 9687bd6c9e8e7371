from django.urls import include, path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("duplicates/", views.duplicate_check, name="duplicate_check"),
    path("bulk-assign/", views.bulk_assign, name="bulk_assign"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/archive/", views.customer_archive, name="archive"),
    path("<int:pk>/restore/", views.customer_restore, name="restore"),
    path("<int:pk>/assign/", views.customer_assign, name="assign"),
    path("<int:pk>/share/", views.customer_share, name="share"),
    path("<int:pk>/unshare/<int:user_id>/", views.customer_unshare, name="unshare"),
    path("<int:pk>/release/", views.customer_release, name="release"),
    path("<int:pk>/claim/", views.customer_claim, name="claim"),
    path("<int:pk>/merge/", views.customer_merge, name="merge"),
    path("<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/primary/", views.contact_primary, name="contact_primary"),
    path("contacts/<int:pk>/archive/", views.contact_archive, name="contact_archive"),
    path("contacts/<int:pk>/restore/", views.contact_restore, name="contact_restore"),
    path("<int:pk>/activities/new/", views.activity_create, name="activity_create"),
    path("activities/", views.activity_list, name="activity_list"),
    path("activities/<int:pk>/comment/", views.activity_comment, name="activity_comment"),
    path("<int:pk>/documents/new/", views.document_upload, name="document_upload"),
    path("documents/<int:pk>/", views.document_download, name="document_download"),
    path("documents/<int:pk>/remove/", views.document_remove, name="document_remove"),
    path("<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/<int:pk>/cancel/", views.visit_cancel, name="visit_cancel"),
    path("pool/", views.pool, name="pool"),
    path("churn/", views.churn_list, name="churn_list"),
    path("churn/<int:pk>/", views.churn_detail, name="churn_detail"),
    path("caller-id/", views.caller_id, name="caller_id"),
    path("import/", include("kehu.customers.import_urls")),
]
