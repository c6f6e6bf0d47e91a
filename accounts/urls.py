from django.urls import path

from accounts import helpdesk_views, institution_request_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/renewed-certificate/", views.rebind, name="rebind"),
    path("logout/", views.logout_view, name="logout"),
    path("me/", views.me, name="me"),
    path("me/withdraw/", views.withdraw, name="withdraw"),
    path("me/data/", views.my_data, name="my_data"),
    path("me/data/download/", views.my_data_download, name="my_data_download"),
    path("helpdesk/", helpdesk_views.helpdesk_search_view, name="helpdesk"),
    path("helpdesk/users/<int:pk>/", helpdesk_views.helpdesk_user, name="helpdesk_user"),
    path("helpdesk/users/<int:pk>/data/", helpdesk_views.helpdesk_user_data,
         name="helpdesk_user_data"),
    path("helpdesk/institutions/<int:pk>/", helpdesk_views.helpdesk_institution,
         name="helpdesk_institution"),
    path("signup/", views.signup_start, name="signup"),
    path("signup/consent/", views.signup_consent, name="signup_consent"),
    path("signup/certificate/", views.signup_certificate, name="signup_certificate"),
    path("signup/profile/", views.signup_profile, name="signup_profile"),
    path("signup/check-id/", views.signup_check_id, name="signup_check_id"),
    path("signup/institution-request/", institution_request_views.signup_institution_request,
         name="signup_institution_request"),
    path("signup/institution-request/cancel/",
         institution_request_views.signup_institution_request_cancel,
         name="signup_institution_request_cancel"),
    path("signup/permissions/", views.signup_permissions, name="signup_permissions"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("signup/restart/", views.signup_restart, name="signup_restart"),
]
