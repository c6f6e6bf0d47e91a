from django.urls import path

from accounts import (
    account_views,
    helpdesk_views,
    institution_request_views,
    login_views,
    signup_views,
)

urlpatterns = [
    path("", login_views.home, name="home"),
    path("login/", login_views.login_view, name="login"),
    path("login/renewed-certificate/", login_views.rebind, name="rebind"),
    path("logout/", login_views.logout_view, name="logout"),
    path("me/", account_views.me, name="me"),
    path("me/withdraw/", account_views.withdraw, name="withdraw"),
    path("me/data/", account_views.my_data, name="my_data"),
    path("me/data/download/", account_views.my_data_download, name="my_data_download"),
    path("helpdesk/", helpdesk_views.helpdesk_search_view, name="helpdesk"),
    path("helpdesk/users/<int:pk>/", helpdesk_views.helpdesk_user, name="helpdesk_user"),
    path("helpdesk/users/<int:pk>/data/", helpdesk_views.helpdesk_user_data,
         name="helpdesk_user_data"),
    path("helpdesk/institutions/<int:pk>/", helpdesk_views.helpdesk_institution,
         name="helpdesk_institution"),
    path("signup/", signup_views.signup_start, name="signup"),
    path("signup/consent/", signup_views.signup_consent, name="signup_consent"),
    path("signup/certificate/", signup_views.signup_certificate, name="signup_certificate"),
    path("signup/profile/", signup_views.signup_profile, name="signup_profile"),
    path("signup/check-id/", signup_views.signup_check_id, name="signup_check_id"),
    path("signup/institution-request/", institution_request_views.signup_institution_request,
         name="signup_institution_request"),
    path("signup/institution-request/cancel/",
         institution_request_views.signup_institution_request_cancel,
         name="signup_institution_request_cancel"),
    path("signup/permissions/", signup_views.signup_permissions, name="signup_permissions"),
    path("signup/done/", signup_views.signup_done, name="signup_done"),
    path("signup/restart/", signup_views.signup_restart, name="signup_restart"),
]
