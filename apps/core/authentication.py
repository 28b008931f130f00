from rest_framework_simplejwt.authentication import JWTAuthentication


class BearerJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication; its errors are rendered as problem+json 401 by the handler."""

    www_authenticate_realm = "api"
