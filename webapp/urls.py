from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "Sightline administration"
admin.site.site_title = "Sightline admin"

urlpatterns = [
    path("", include("webapp.cases.urls")),
    path("", include("webapp.jobs.urls")),
    path("", include("webapp.footage.urls")),
    path("", include("webapp.search.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
