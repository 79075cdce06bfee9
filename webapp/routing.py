"""Websocket routes."""

from django.urls import path

from webapp.jobs.consumers import CaseEventsConsumer

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(); django-stubs only knows views.
    path("ws/cases/<int:case_id>/", CaseEventsConsumer.as_asgi()),  # type: ignore[arg-type]
]
