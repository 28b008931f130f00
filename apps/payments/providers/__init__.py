"""Payment providers by name. A payment remembers the provider that took it, so its refunds go
to the same one; new payments use PAYMENT_PROVIDER."""

from __future__ import annotations

import functools

from django.conf import settings

from apps.payments.providers.base import PaymentProvider
from apps.payments.providers.demo import DemoProvider
from apps.payments.providers.stripe import StripeProvider


@functools.cache
def provider_for(name: str) -> PaymentProvider:
    """The provider called `name` (one instance per process). KeyError for an unknown name."""
    providers: dict[str, type[PaymentProvider]] = {
        StripeProvider.name: StripeProvider,
        DemoProvider.name: DemoProvider,
    }
    return providers[name]()


def current() -> PaymentProvider:
    """The provider new payments use."""
    return provider_for(settings.PAYMENT_PROVIDER)
