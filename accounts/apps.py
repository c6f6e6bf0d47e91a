from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "사용자"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import checks  # noqa: F401  (registers the certificate trust checks)
        from accounts.signals import record_login_session

        user_logged_in.connect(record_login_session, dispatch_uid="accounts.login_session")
