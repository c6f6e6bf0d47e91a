from django.apps import AppConfig


class KdcisConfig(AppConfig):
    name = "kdcis"
    verbose_name = "공통"
