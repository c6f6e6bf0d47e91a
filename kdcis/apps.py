from django.apps import AppConfig


class KdcisConfig(AppConfig):
    name = "kdcis"
    verbose_name = "공통"

    def ready(self) -> None:
        from kdcis import checks  # noqa: F401  (registers the system checks)
