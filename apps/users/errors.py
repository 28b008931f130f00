"""Domain errors of accounts, shops and API keys. Codes are part of the API contract."""

from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound, RuleViolation
from apps.core.errors import PermissionDenied as CorePermissionDenied


class Unauthenticated(DomainError):
    code = "auth.not_authenticated"
    title = "Authentication failed"
    status = 401


class InvalidCredentials(Unauthenticated):
    code = "auth.invalid_credentials"
    title = "Invalid email or password"


class TokenInvalid(Unauthenticated):
    code = "auth.token_invalid"
    title = "Token is invalid or expired"


class TokenReused(Unauthenticated):
    code = "auth.token_reused"
    title = "Refresh token reused"


class TokenRevoked(Unauthenticated):
    """Issued before the account's last logout-all, password change or password reset. The same
    code and title as the access-token check in apps.core.authentication."""

    code = "auth.token_revoked"
    title = "Token revoked"


class InvalidApiKey(Unauthenticated):
    code = "auth.invalid_api_key"
    title = "Invalid API key"


class InvalidResetToken(InvalidInput):
    code = "auth.invalid_reset_token"
    title = "Invalid or expired password reset link"


class WrongPassword(InvalidInput):
    code = "auth.wrong_password"
    title = "The current password is wrong"


class EmailTaken(Conflict):
    code = "user.email_taken"
    title = "Email already registered"


class AddressNotFound(NotFound):
    code = "address.not_found"
    title = "Address not found"


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


class ApiKeyNotFound(NotFound):
    code = "api_key.not_found"
    title = "API key not found"
