from django.urls import include, path

from kdcis import views
from kdcis.admin_site import kdcis_admin_site

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("permissions.urls")),
    path("", include("institutions.urls")),
    path("notices/", views.notice_list, name="notices"),
    path("notices/<int:pk>/", views.notice_detail, name="notice_detail"),
    path("work/", views.work_list, name="work_list"),
    path("work/<int:pk>/", views.work_detail, name="work_detail"),
    path("faq/", views.faq, name="faq"),
    path("library/", views.library, name="library"),
    path("library/<int:pk>/download/", views.library_download, name="library_download"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", kdcis_admin_site.urls),
]

handler403 = "kdcis.views.permission_denied"
handler404 = "kdcis.views.page_not_found"
handler500 = "kdcis.views.server_error"
