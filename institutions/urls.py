from django.urls import path

from institutions import request_views, supplementary_views, views

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("institution-registration/", views.institution_registration,
         name="institution_registration"),
    path("vaccination/institution-info/", supplementary_views.institution_info,
         name="vaccination_institution_info"),
    path("approvals/institutions/", request_views.officer_queue, name="institution_requests"),
    path("approvals/institutions/<int:pk>/", request_views.officer_detail,
         name="institution_request_detail"),
    path("approvals/institutions/<int:pk>/decide/", request_views.officer_decide,
         name="institution_request_decide"),
    path("helpdesk/institution-requests/", request_views.helpdesk_queue,
         name="helpdesk_institution_requests"),
    path("helpdesk/institution-requests/<int:pk>/", request_views.helpdesk_request,
         name="helpdesk_institution_request"),
]
