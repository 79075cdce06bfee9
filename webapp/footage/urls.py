from django.urls import path

from webapp.footage import views

app_name = "footage"
urlpatterns = [
    path("cases/<int:case_id>/uploads/", views.uploads, name="uploads"),
    path("cases/<int:case_id>/uploads/<str:upload_id>", views.upload, name="upload"),
    path("cases/<int:case_id>/uploads/<str:upload_id>/complete", views.complete_upload, name="complete"),
    path("cases/<int:case_id>/videos/", views.video_list, name="videos"),
    path("cases/<int:case_id>/videos/<int:video_id>/stream", views.stream, name="stream"),
    path("cases/<int:case_id>/videos/<int:video_id>/poster", views.poster, name="poster"),
    path("cases/<int:case_id>/videos/<int:video_id>/details", views.video_details, name="details"),
    path("cases/<int:case_id>/videos/<int:video_id>/delete", views.delete_video, name="delete"),
    path("cases/<int:case_id>/videos/<int:video_id>/retry", views.retry_video, name="retry"),
]
