"""Websocket routes."""

from django.urls import path

from webapp.jobs.consumers import CaseEventsConsumer

websocket_urlpatterns = [
    path("ws/cases/<int:case_id>/", CaseEventsConsumer.as_asgi()),
]
