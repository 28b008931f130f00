"""`django.contrib.admin` with our site (apps.core.admin_login.MarketplaceAdminSite) as
`admin.site`. A module of its own: an app config is imported before any model may be."""

from django.contrib.admin.apps import AdminConfig


class MarketplaceAdminConfig(AdminConfig):
    default_site = "apps.core.admin_login.MarketplaceAdminSite"
