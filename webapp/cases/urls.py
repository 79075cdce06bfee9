from django.urls import path

from webapp.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("cases/new/", views.case_create, name="create"),
    path("cases/<int:case_id>/", views.case_detail, name="detail"),
    path("cases/<int:case_id>/members/", views.invite_member, name="invite"),
    path("cases/<int:case_id>/members/<int:user_id>/role", views.change_role, name="member-role"),
    path("cases/<int:case_id>/members/<int:user_id>/remove", views.remove_member, name="member-remove"),
    path("cases/<int:case_id>/leave", views.leave_case, name="leave"),
    path("cases/<int:case_id>/transfer", views.transfer_ownership, name="transfer"),
    path("cases/<int:case_id>/links/", views.create_share_link, name="link-create"),
    path("cases/<int:case_id>/links/<int:link_id>/revoke", views.revoke_share_link, name="link-revoke"),
    path("cases/<int:case_id>/delete", views.delete_case, name="delete"),
    path("cases/<int:case_id>/lock", views.lock_case, name="lock"),
    path("cases/<int:case_id>/audit/", views.case_audit, name="audit"),
    path("share/<str:token>/", views.redeem_share_link, name="redeem"),
]
