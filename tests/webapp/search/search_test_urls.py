"""The project's URLs plus the search app's, for as long as webapp/urls.py does not include them itself."""

from django.urls import NoReverseMatch, include, path, reverse

from webapp.urls import urlpatterns as project_urlpatterns

urlpatterns = list(project_urlpatterns)
try:
    reverse("search:queries", args=[1])
except NoReverseMatch:
    urlpatterns.append(path("", include("webapp.search.urls")))
