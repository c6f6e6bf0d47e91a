from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "institutions"
    verbose_name = "기관"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from institutions.signals import flag_login_for_supplementary_check

        user_logged_in.connect(
            flag_login_for_supplementary_check, dispatch_uid="institutions.supplementary_login"
        )
