"""담당자안내: the helpdesk as the general line, each approving body with its own number."""

import pytest

from institutions.models import ApprovingBody

pytestmark = pytest.mark.django_db


def _central_row(html: str) -> str:
    start = html.index("<td>질병관리청 예방접종관리과</td>")
    return html[start:html.index("</tr>", start)]


def test_the_central_department_is_listed_with_its_own_number(client, reference_data):
    html = client.get("/contacts/").content.decode()
    row = _central_row(html)
    assert "043-719-8398" in row and "1644-1407" not in row
    assert "헬프데스크 1644-1407" in html  # still the general line


def test_a_central_department_without_a_number_falls_back_to_the_helpdesk(client,
                                                                          reference_data):
    ApprovingBody.objects.filter(kind="central").update(phone="")
    assert "1644-1407" in _central_row(client.get("/contacts/").content.decode())


def test_an_education_applicant_sees_the_department_number_among_their_bodies(client,
                                                                              personas):
    client.force_login(personas.alice)  # alice asked the central department for education
    html = client.get("/contacts/").content.decode()
    mine = html[html.index("나의 승인기관"):html.index("중앙부서")]
    assert "질병관리청 예방접종관리과" in mine and "043-719-8398" in mine
