"""사용자정보등록, the signup wizard's third step: one page, one form, a small view per button.

Every button posts the whole form to its own URL (`formaction`), so whichever one was pressed
the typed values are stored in the draft first and nothing typed is ever lost. A button's own
rules are a form (accounts.forms); its messages come back with the page by GET (every wizard
POST redirects, so the browser's history holds only the page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import wizard
from accounts.forms import (
    InstitutionSearchForm,
    PhoneNumberForm,
    ProfileForm,
    ProfileSubmitForm,
    ResultsPageForm,
    clean_username,
)
from accounts.models import User
from accounts.services import PhoneVerificationError, phone_code_check, phone_code_send
from institutions.models import Institution, InstitutionType, Region
from institutions.selectors import (
    SearchPaginator,
    institution_request_of_draft,
    search_institutions,
)
from kdcis import ratelimit
from kdcis.ratelimit import client_ip

INSTITUTIONS_PER_PAGE = 10


@dataclass
class ProfilePost:
    """One post of the step's form: the draft (the typed values in it) and the messages for
    the page that follows."""

    request: HttpRequest
    draft: dict
    errors: dict = field(default_factory=dict)
    notices: dict = field(default_factory=dict)
    id_checked: bool = False

    @property
    def state(self) -> dict:
        return wizard.profile_of(self.draft)

    def keep_typed(self) -> None:
        form = ProfileForm(self.request.POST)
        form.is_valid()  # every field is optional: a button's own rules are its own form
        state = self.state
        state.update(form.typed_profile())
        if state.get("verified_mobile") and state.get("verified_mobile") != state.get("mobile"):
            state.pop("verification_id", None)  # another number needs its own code
            state.pop("verified_mobile", None)

    def check(self, form: forms.Form) -> dict | None:
        """The button's own rules: the form's cleaned values, or None with its messages."""
        if form.is_valid():
            return form.cleaned_data
        self.errors.update({name: " ".join(errs) for name, errs in form.errors.items()})
        return None

    def check_username(self) -> bool:
        """The one ID check behind the live '중복검사', the form's '중복검사' and '다음': the
        same rules and the same limit, so no path enumerates IDs faster than the others."""
        self.id_checked = True
        ok, message, _limited = username_verdict(self.request, self.state.get("username", ""))
        if not ok:
            self.errors["username"] = message
            self.state.pop("username_checked", None)
            return False
        self.state["username_checked"] = self.state["username"]
        self.notices["username"] = message
        return True

    def back(self) -> HttpResponse:
        """To the page by GET, with this post's messages."""
        if not self.id_checked and self._checked_live():
            self.check_username()
        self.draft["profile_done"] = False
        wizard.save_draft(self.request.session, self.draft)
        wizard.flash(self.request.session, "profile",
                     errors={k: str(v) for k, v in self.errors.items()},
                     notices={k: str(v) for k, v in self.notices.items()})
        return redirect("signup_profile")

    def _checked_live(self) -> bool:
        """The live check said this ID was free and the form carries it: record it now, on
        the form's own post (checked again, so a forged field gains nothing)."""
        checked = (self.request.POST.get("username_checked") or "").strip()
        state = self.state
        return bool(checked) and checked == state.get("username") != state.get(
            "username_checked")


def _with_post(view):
    """`view(request, post)` applies its button to the draft, which already holds the typed
    values; it returns where to go next, or None to come back to the page."""

    @wraps(view)
    def wrapped(request: HttpRequest, draft: dict) -> HttpResponse:
        if not request.session.session_key:
            request.session.save()  # codes and ID-check limits are per session
        post = ProfilePost(request, draft)
        post.keep_typed()
        return view(request, post) or post.back()

    return wrapped


def profile_button(view):
    """A button of the step at its own URL (see _with_post)."""
    return require_POST(wizard.step_required("profile")(_with_post(view)))


# ------------------------------------------------------------------------- the page


@require_http_methods(["GET", "POST"])
@wizard.step_required("profile")
def signup_profile(request: HttpRequest, draft: dict) -> HttpResponse:
    """The step's page; '다음' posts here and moves on once the whole profile holds."""
    if request.method == "POST":
        return _profile_next(request, draft)
    return profile_page(request, draft)


def profile_page(request: HttpRequest, draft: dict) -> HttpResponse:
    """The page with what the draft holds and the messages of the post before."""
    flashed = wizard.take_flash(request.session, "profile")
    institution_request = _adopt_registered_institution(request, draft)
    return render(request, "accounts/signup/profile.html", wizard.step_context(
        "profile", **_profile_context(request, draft), institution_request=institution_request,
        errors=flashed.get("errors", {}), notices=flashed.get("notices", {}),
    ))


def _profile_context(request: HttpRequest, draft: dict) -> dict:
    state, cert = wizard.profile_of(draft), draft["certificate"]
    page_number = request.GET.get("page") or state.get("page") or 1
    results = search_institutions(query=state.get("query", ""),
                                  type_id=state.get("institution_type"), region=state.get("region"))
    return {
        "state": state, "cert": cert, "corporate": cert["kind"] == "corporate",
        "institution_types": InstitutionType.objects.all(), "regions": Region.objects.all(),
        "page": SearchPaginator(results, INSTITUTIONS_PER_PAGE).get_page(page_number),
        "searched": bool(state.get("query")),
        "institution": Institution.objects.select_related("type", "region").filter(
            pk=state.get("institution_id")).first(),
        "verified": bool(state.get("verification_id")) and state.get(
            "verified_mobile") == state.get("mobile"),
        "code_expires_at": state.get("code_expires_at"),
    }


def _adopt_registered_institution(request: HttpRequest, draft: dict):
    """The applicant's 기관등록 신청, if any. Once the health center registered it, the
    applicant continues with it, once (they may still pick another institution afterwards)."""
    state = wizard.profile_of(draft)
    institution_request = institution_request_of_draft(
        request.session.get(wizard.SESSION_KEY, ""), state.get("institution_request_id"))
    if (institution_request is not None and institution_request.institution_id
            and state.get("institution_adopted") != institution_request.pk):
        state["institution_id"] = institution_request.institution_id
        state["institution_adopted"] = institution_request.pk
        wizard.save_draft(request.session, draft)
    return institution_request


# ---------------------------------------------------------------------- the buttons


@_with_post
def _profile_next(request: HttpRequest, post: ProfilePost) -> HttpResponse | None:
    """'다음': the ID, the institution, the verified mobile and the office phone must hold."""
    post.check_username()
    post.check(ProfileSubmitForm(post.state, corporate=post.draft["certificate"]["kind"] == (
        "corporate"), session_key=request.session.session_key))
    if post.errors:
        return None
    post.draft["profile_done"] = True
    wizard.save_draft(request.session, post.draft)
    return redirect("signup_permissions")


@profile_button
def signup_profile_save(request: HttpRequest, post: ProfilePost) -> None:
    """Enter in a field, and '선택' under the results: keep what was typed and chosen."""


@profile_button
def signup_profile_check_id(request: HttpRequest, post: ProfilePost) -> None:
    """'중복검사' without script: whether the typed ID can be used."""
    post.check_username()


@profile_button
def signup_profile_search(request: HttpRequest, post: ProfilePost) -> None:
    """'검색': the results from their first page."""
    post.state["page"] = 1
    post.check(InstitutionSearchForm(request.POST))


@profile_button
def signup_profile_results(request: HttpRequest, post: ProfilePost) -> None:
    """'이전' and '다음 목록' under the results (a page that does not exist: the first)."""
    form = ResultsPageForm(request.POST)
    post.state["page"] = form.cleaned_data["page"] if form.is_valid() else 1


@profile_button
def signup_profile_send_code(request: HttpRequest, post: ProfilePost) -> None:
    """'휴대폰번호 인증': a code by SMS to the typed number."""
    data = post.check(PhoneNumberForm(request.POST))
    if data is None:
        return
    try:
        sent = phone_code_send(session_key=request.session.session_key, phone=data["mobile"],
                               ip=client_ip(request))
    except PhoneVerificationError as exc:
        post.errors["mobile"] = exc.message
    else:
        post.state["code_expires_at"] = sent.expires_at.isoformat()
        post.notices["mobile"] = _("인증번호를 보냈습니다. 3분 안에 입력하세요.")


@profile_button
def signup_profile_verify_code(request: HttpRequest, post: ProfilePost) -> None:
    """'확인' next to the code: the typed code against the one sent to the typed number."""
    data = post.check(PhoneNumberForm(request.POST))
    if data is None:
        return
    try:
        verification = phone_code_check(session_key=request.session.session_key,
                                        phone=data["mobile"], code=data["code"],
                                        ip=client_ip(request))
    except PhoneVerificationError as exc:
        post.errors["code"] = exc.message
    else:
        post.state["verification_id"] = verification.pk
        post.state["verified_mobile"] = data["mobile"]
        post.notices["mobile"] = _("휴대폰번호 인증이 완료되었습니다.")


# ------------------------------------------------------------------- the ID check


@require_GET
def signup_check_id(request: HttpRequest) -> JsonResponse:
    """The live '중복검사': it answers and changes nothing. The ID is stored only by the form's
    own post, which checks it again, so an overlapping request never loses a field."""
    if not wizard.get_draft(request.session).get("certificate"):
        return JsonResponse({"ok": False, "message": _("인증서 등록을 먼저 완료하세요.")},
                            status=400)
    ok, message, limited = username_verdict(
        request, (request.GET.get("username") or "").strip()[:40])
    return JsonResponse({"ok": ok, "message": str(message)}, status=429 if limited else 200)


def username_verdict(request: HttpRequest, username: str) -> tuple[bool, str, bool]:
    """(usable, message, refused for the limit)."""
    if not _id_check_allowed(request):
        return False, _("아이디 확인을 너무 많이 시도했습니다. 잠시 후 다시 시도하세요."), True
    try:
        username = clean_username(username)
    except forms.ValidationError as exc:
        return False, " ".join(exc.messages), False
    if User.objects.filter(username=username).exists():
        return False, _("이미 사용 중인 아이디입니다. 다른 아이디를 입력하세요."), False
    return True, _("사용할 수 있는 아이디입니다."), False


def _id_check_allowed(request: HttpRequest) -> bool:
    window = settings.ID_CHECK_WINDOW_SECONDS
    per_ip = ratelimit.hit(f"check-id:ip:{client_ip(request)}",
                           limit=settings.ID_CHECK_MAX_PER_IP, window_seconds=window)
    per_session = ratelimit.hit(f"check-id:session:{request.session.session_key}",
                                limit=settings.ID_CHECK_MAX_PER_SESSION, window_seconds=window)
    return per_ip and per_session
