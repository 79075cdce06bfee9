from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "webapp.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from webapp.jobs import signals  # noqa: F401  (connects the access-change receivers)
