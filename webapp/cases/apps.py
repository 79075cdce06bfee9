from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "webapp.cases"
    label = "cases"
    verbose_name = "Cases and sharing"
