from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .middleware import (
            reader_preferences_at_sign_in,
            remember_second_factor_due,
            remember_time_zone,
        )

        user_logged_in.connect(reader_preferences_at_sign_in, dispatch_uid="tracker-reader")

        user_logged_in.connect(remember_second_factor_due, dispatch_uid="tracker-2fa-due")
        user_logged_in.connect(remember_time_zone, dispatch_uid="tracker-time-zone")
