from django.urls import path

from institutions import views

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("institution-registration/", views.institution_registration,
         name="institution_registration"),
]
