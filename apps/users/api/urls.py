from django.urls import path

from apps.users.api import views

urlpatterns = [
    path("auth/signup", views.SignupApi.as_view(), name="auth-signup"),
    path("auth/login", views.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-all", views.LogoutAllApi.as_view(), name="auth-logout-all"),
    path("auth/verify-email", views.EmailVerifyApi.as_view(), name="auth-verify-email"),
    path(
        "auth/verify-email/resend",
        views.EmailVerifyResendApi.as_view(),
        name="auth-verify-email-resend",
    ),
    path("auth/password-reset", views.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm",
        views.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("me", views.MeApi.as_view(), name="me"),
    path("me/password", views.MePasswordApi.as_view(), name="me-password"),
    path("me/addresses", views.AddressListCreateApi.as_view(), name="me-addresses"),
    path(
        "me/addresses/<uuid:address_id>",
        views.AddressDetailApi.as_view(),
        name="me-address-detail",
    ),
    path("api-keys", views.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", views.ApiKeyRevokeApi.as_view(), name="api-key-detail"),
]
