"""The address book: a user's saved addresses, one of them the default."""

from typing import Any

from django.db import transaction

from apps.users.errors import AddressNotFound
from apps.users.models import Address, User


@transaction.atomic
def address_create(*, user: User, data: dict[str, Any]) -> Address:
    is_default = bool(data.pop("is_default", False)) or not user.addresses.exists()
    if is_default:
        user.addresses.filter(is_default=True).update(is_default=False)
    return Address.objects.create(user=user, is_default=is_default, **data)


@transaction.atomic
def address_update(*, user: User, address_id: Any, data: dict[str, Any]) -> Address:
    address = Address.objects.select_for_update().filter(pk=address_id, user=user).first()
    if address is None:
        raise AddressNotFound()
    if data.get("is_default"):
        user.addresses.exclude(pk=address.pk).filter(is_default=True).update(is_default=False)
    for field, value in data.items():
        setattr(address, field, value)
    address.save()
    return address


def address_delete(*, user: User, address_id: Any) -> None:
    deleted, _ = Address.objects.filter(pk=address_id, user=user).delete()
    if not deleted:
        raise AddressNotFound()
