from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.payments"
    label = "payments"

    def ready(self) -> None:
        # Orders takes money through the methods registered here; it never imports payments.
        from apps.orders import payment_methods
        from apps.payments.methods import Card, CashOnDelivery

        payment_methods.register(CashOnDelivery())
        payment_methods.register(Card())
