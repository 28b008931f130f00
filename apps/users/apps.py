from django.apps import AppConfig


class UsersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.users"
    label = "users"

    def ready(self) -> None:
        from apps.core.authentication import session_user_loader_register
        from apps.users.services.sessions import session_token_user

        # Bearer authentication (in apps.core, below this app) reads a token's session here.
        session_user_loader_register(session_token_user)
