"""`{% certificate_policies %}`: the policy table's 구분 labels as JSON in the page, so the
certificate window lists each certificate by the table the server verifies with."""

from django import template
from django.conf import settings
from django.utils.html import json_script

from accounts.certificates import policy_display_labels

register = template.Library()


@register.simple_tag
def certificate_policies():
    extra = dict(getattr(settings, "CERT_POLICY_OIDS", None) or {})
    return json_script(policy_display_labels(extra), "cert-policies")
