from django.urls import path

from webapp.jobs import views

app_name = "jobs"
urlpatterns = [
    path("cases/<int:case_id>/jobs/", views.case_jobs, name="case-jobs"),
    path("cases/<int:case_id>/jobs/selfcheck/", views.start_selfcheck, name="selfcheck"),
    path("jobs/<int:job_id>/cancel/", views.cancel, name="cancel"),
    path("jobs/<int:job_id>/retry/", views.retry, name="retry"),
]
