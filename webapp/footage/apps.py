from django.apps import AppConfig


class FootageConfig(AppConfig):
    name = "webapp.footage"
    label = "footage"
    verbose_name = "Footage"
