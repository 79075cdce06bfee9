from django.apps import AppConfig


class FootageConfig(AppConfig):
    name = "webapp.footage"
    label = "footage"
    verbose_name = "Footage"

    def ready(self) -> None:
        from webapp.footage import job_hooks
        from webapp.jobs import services as jobs
        from webapp.jobs.models import JobKind

        jobs.register_kind(
            JobKind.INGEST, on_cancelled=job_hooks.ingest_cancelled, on_retry=job_hooks.ingest_retried
        )
