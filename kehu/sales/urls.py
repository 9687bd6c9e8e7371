from django.urls import path

from . import views

app_name = "sales"

urlpatterns = [
    path("", views.opportunity_list, name="list"),
    path("new/", views.opportunity_create, name="create"),
    path("customer-options/", views.customer_options, name="customer_options"),
    path("<int:pk>/", views.opportunity_detail_view, name="detail"),
    path("<int:pk>/edit/", views.opportunity_edit, name="edit"),
    path("<int:pk>/assign/", views.opportunity_assign, name="assign"),
    path("<int:pk>/move/", views.opportunity_move, name="move"),
    path("<int:pk>/win/", views.opportunity_win, name="win"),
    path("<int:pk>/lose/", views.opportunity_lose, name="lose"),
    path("<int:pk>/archive/", views.opportunity_archive, name="archive"),
    path("<int:pk>/restore/", views.opportunity_restore, name="restore"),
    path("<int:pk>/plan/", views.plan_add, name="plan_add"),
    path("plan/<int:pk>/outcome/", views.plan_outcome, name="plan_outcome"),
    path("plan/<int:pk>/delete/", views.plan_delete, name="plan_delete"),
    path("plans/", views.plan_list, name="plan_list"),
    path("board/", views.board, name="board"),
    path("forecast/", views.forecast, name="forecast"),
    path("stages/", views.stage_list, name="stage_list"),
    path("stages/new/", views.stage_create, name="stage_create"),
    path("stages/<int:pk>/", views.stage_edit, name="stage_edit"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/archive/", views.campaign_archive, name="campaign_archive"),
    path("campaigns/<int:pk>/mailings/new/", views.mailing_create, name="mailing_create"),
    path("mailings/<int:pk>/", views.mailing_detail, name="mailing_detail"),
    path("mailings/<int:pk>/edit/", views.mailing_edit, name="mailing_edit"),
    path("mailings/<int:pk>/send/", views.mailing_send, name="mailing_send"),
    path("recipients/<int:pk>/respond/", views.recipient_respond, name="recipient_respond"),
    path("recipients/<int:pk>/convert/", views.recipient_convert, name="recipient_convert"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
