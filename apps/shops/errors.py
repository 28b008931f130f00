"""Domain errors of shops and follows. Codes are part of the API contract."""

from apps.core.errors import Conflict, NotFound, RuleViolation
from apps.core.errors import PermissionDenied as CorePermissionDenied


class ShopNotFound(NotFound):
    code = "shop.not_found"
    title = "Shop not found"


class ShopAlreadyExists(Conflict):
    code = "shop.already_exists"
    title = "You already have a shop"


class NotShopOwner(CorePermissionDenied):
    code = "shop.not_owner"
    title = "Only the shop's seller or staff may do this"


class SelfFollow(RuleViolation):
    code = "shop.self_follow"
    title = "You cannot follow your own shop"
