from django.urls import path

from webapp.search import views

app_name = "search"
urlpatterns = [
    path("cases/<int:case_id>/search/", views.queries, name="queries"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/", views.query_results, name="query"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/photo", views.query_photo, name="photo"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/choose", views.choose, name="choose"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/rerun", views.rerun, name="rerun"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/refine", views.refine, name="refine"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/photos", views.add_photo, name="add-photo"),
    path(
        "cases/<int:case_id>/search/queries/<int:query_id>/photos/<int:n>",
        views.extra_photo,
        name="extra-photo",
    ),
    path("cases/<int:case_id>/search/queries/<int:query_id>/report", views.report, name="report"),
    path("cases/<int:case_id>/search/queries/<int:query_id>/hits.<str:fmt>", views.export, name="export"),
    path("cases/<int:case_id>/search/hits/<int:hit_id>/verdict", views.verdict, name="verdict"),
    path("cases/<int:case_id>/search/hits/<int:hit_id>/thumb", views.thumb, name="thumb"),
    path("cases/<int:case_id>/search/hits/<int:hit_id>/clip", views.clip, name="clip"),
    path("cases/<int:case_id>/search/clips/<int:job_id>/", views.clip_status, name="clip-status"),
    path("cases/<int:case_id>/search/clips/<int:job_id>/file", views.clip_file, name="clip-file"),
]
