from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "사용자"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import checks  # noqa: F401  (registers the certificate trust checks)
        from accounts.signals import (
            record_admin_login,
            record_admin_login_failed,
            record_login_session,
        )
        from kdcis.admin_site import admin_login_failed, admin_login_succeeded

        user_logged_in.connect(record_login_session, dispatch_uid="accounts.login_session")
        admin_login_failed.connect(record_admin_login_failed,
                                   dispatch_uid="accounts.admin_login_failed")
        admin_login_succeeded.connect(record_admin_login, dispatch_uid="accounts.admin_login")
