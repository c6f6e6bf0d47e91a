"""The left '메뉴보기' tree: folders appear only while the user holds their permission."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass
class MenuItem:
    label: str
    url: str = ""
    children: list[MenuItem] = field(default_factory=list)


def _is_medical(user) -> bool:
    institution = getattr(user, "institution", None)
    return bool(institution and institution.type.is_medical)


def vaccination_folder(user) -> MenuItem:
    """의료기관부가정보관리 is a medical institution's form: a pharmacy's or an agency's user
    is not shown a menu only to be told they cannot use it."""
    children = [MenuItem(label=_("예방접종관리 처음화면"), url=reverse("vaccination_home"))]
    if _is_medical(user):
        children.append(MenuItem(label=_("국가예방접종사업"), children=[
            MenuItem(label=_("계약·점검관리"), children=[
                MenuItem(label=_("의료기관부가정보관리"),
                         url=reverse("vaccination_institution_info")),
            ]),
        ]))
    return MenuItem(label=_("예방접종관리"), children=children)


def education_folder(user) -> MenuItem:
    return MenuItem(
        label=_("교육관리"),
        children=[MenuItem(label=_("교육관리 처음화면"), url=reverse("education_home"))],
    )


# Menu area code (PermissionType.menu_area) → the folder it opens.
FOLDERS = {"vaccination": vaccination_folder, "education": education_folder}
