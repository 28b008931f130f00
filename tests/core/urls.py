"""The project's URLs plus test-only views under /api/v1/test/."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns
from tests.core import views

test_patterns = [
    path("boom", views.BoomApi.as_view()),
    path("database-down", views.DatabaseDownApi.as_view()),
    path("echo", views.EchoApi.as_view()),
    path("private", views.PrivateApi.as_view()),
    path("staff", views.StaffApi.as_view()),
    path("rule", views.RuleApi.as_view()),
    path("missing", views.MissingApi.as_view()),
    path("groups", views.GroupCreateApi.as_view()),
    path("flaky", views.FlakyApi.as_view()),
    path("slow", views.SlowApi.as_view()),
    path("secret", views.SecretApi.as_view()),
    path("upload", views.UploadApi.as_view()),
    path("throttled", views.ThrottledApi.as_view()),
    path("login", views.LoginThrottledApi.as_view()),
    path("big", views.BigApi.as_view()),
    path("render", views.RenderApi.as_view()),
    path("log", views.LogApi.as_view()),
]

urlpatterns = [path("api/v1/test/", include(test_patterns)), *project_urlpatterns]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
