from django.urls import path

from kehu.core import backup_views, settings_views, views

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("search/", views.search, name="search"),
    path("language/", views.set_language, name="set_language"),
    path("basedata/dictionary/", views.DictListView.as_view(), name="dict_list"),
    path("basedata/dictionary/new/", views.dict_create, name="dict_create"),
    path("basedata/dictionary/<int:pk>/", views.dict_edit, name="dict_edit"),
    path("basedata/dictionary/<int:pk>/toggle/", views.dict_toggle, name="dict_toggle"),
    path("basedata/dictionary/<int:pk>/delete/", views.dict_delete, name="dict_delete"),
    path("basedata/numbering/", views.numbering_list, name="numbering_list"),
    path("basedata/numbering/<int:pk>/", views.numbering_edit, name="numbering_edit"),
    path("system/audit/", views.AuditListView.as_view(), name="audit_list"),
    path("system/settings/", settings_views.settings_page, name="settings"),
    path("system/backups/", backup_views.backup_list, name="backup_list"),
    path("system/backups/new/", backup_views.backup_create, name="backup_create"),
    path("system/backups/<str:name>", backup_views.backup_download, name="backup_download"),
    path("jobs/", views.JobListView.as_view(), name="job_list"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job_detail"),
]
