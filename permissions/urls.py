from django.urls import path

from permissions import approval_views, views

urlpatterns = [
    path("permissions/", views.permissions_page, name="permissions"),
    path("permissions/request/", views.permission_request, name="permission_request"),
    path("permissions/<int:grant_id>/cancel/", views.permission_cancel, name="permission_cancel"),
    path("permissions/<int:grant_id>/body/", views.permission_change_body,
         name="permission_change_body"),
    path("vaccination/", views.vaccination_home, name="vaccination_home"),
    path("education/", views.education_home, name="education_home"),
    path("approvals/", approval_views.approval_queue, name="approvals"),
    path("approvals/<int:grant_id>/", approval_views.approval_detail, name="approval_detail"),
    path("approvals/decide/", approval_views.approval_decide, name="approval_decide"),
    path("approvals/<int:grant_id>/transfer/", approval_views.approval_transfer,
         name="approval_transfer"),
]
