from django.urls import path

from institutions import supplementary_views, views

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("institution-registration/", views.institution_registration,
         name="institution_registration"),
    path("vaccination/institution-info/", supplementary_views.institution_info,
         name="vaccination_institution_info"),
]
