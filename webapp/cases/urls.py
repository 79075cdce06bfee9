from django.urls import path

from webapp.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("cases/new/", views.case_create, name="create"),
    path("cases/<int:case_id>/", views.case_detail, name="detail"),
    path("share/<str:token>/", views.redeem_share_link, name="redeem"),
]
