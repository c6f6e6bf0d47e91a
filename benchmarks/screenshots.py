"""Screenshots of the running demo for the README, taken in the OS Chromium.

    .venv/bin/python benchmarks/screenshots.py        (or: make screenshots)

Starts the demo on a throwaway SQLite database in a temporary folder (migrate,
load_reference_data, load_demo_data, then `runserver` on a free port with DEBUG on and the
console SMS backend), then drives Chromium through the real pages: the signup wizard with the
demo certificate var/demo/new-applicant.p12 (picked in the certificate dialog; the phone is
verified with the code the server logs), the approval queue of the 종로구보건소 officer
jongno01 and the 의료기관 부가정보 form of clinic01, both logged in with their .p12 through
the same dialog. Writes 1280x900 PNGs to docs/screenshots/. The demo certificates stay in the
project's var/demo/ (ignored by git), as `make run` uses them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
DEMO = ROOT / "var" / "demo"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 900}
APPLICANT_MOBILE = "01055557777"
OFFICE_PHONE = "0221483500"
SMS_CODE = re.compile(r"SMS to=(\d+) text=.*?\[(\d{6})\]")
PASSWORD_LINE = re.compile(r"^\s*(\S+)\.p12\s+password\s+(\S+)", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "DEBUG": "true", "SECURE": "false", "SMS_BACKEND": "console",
        "CERT_TRUST_ANCHORS": "var/demo/ca.pem", "CERT_CRL_PATHS": "var/demo/crl.pem",
        "REQUEST_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
    })
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the demo server stopped while starting")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"the demo server did not answer at {url}")


def sms_code(log: Path, phone: str) -> str:
    for _ in range(50):
        codes = [m.group(2) for m in SMS_CODE.finditer(log.read_text(errors="replace"))
                 if m.group(1) == phone]
        if codes:
            return codes[-1]
        time.sleep(0.1)
    sys.exit(f"no SMS code for {phone} in the server log")


def shot(page, name: str, *, top: str | None = None) -> None:
    """A 1280x900 PNG of the viewport, without a focus ring; `top`: scroll that element to
    the top first."""
    page.wait_for_load_state("load")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    if top:
        page.locator(top).first.evaluate("el => el.scrollIntoView()")
    path = OUT / name
    page.screenshot(path=str(path))
    print(f"  {path.relative_to(ROOT)}")


def sign_in_dialog(page, p12: Path, password: str, *, opener: str) -> None:
    page.get_by_role("button", name=opener).click()
    dialog = page.locator("#cert-dialog")
    dialog.get_by_label("인증서 파일 (.p12, .pfx)").set_input_files(str(p12))
    dialog.get_by_label("인증서 암호").fill(password)


def confirm_dialog(page) -> None:
    page.locator("#cert-dialog").get_by_role("button", name="확인", exact=True).click()


def take(base_url: str, log: Path, passwords: dict[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)

        def new_page():
            context = browser.new_context(viewport=VIEWPORT, locale="ko-KR",
                                          base_url=base_url)
            page = context.new_page()
            page.set_default_timeout(20000)
            return page

        # The signup wizard.
        page = new_page()
        page.goto("/signup/consent/")
        page.get_by_label("위의 개인정보 수집(이용)에 동의합니다.").check()
        shot(page, "01-consent.png")
        page.get_by_role("button", name="다음").click()
        expect(page).to_have_url(f"{base_url}/signup/certificate/")
        sign_in_dialog(page, DEMO / "new-applicant.p12", passwords["new-applicant"],
                       opener="공인인증서 등록")
        shot(page, "02-certificate.png")
        confirm_dialog(page)
        expect(page).to_have_url(f"{base_url}/signup/profile/")
        page.get_by_label("아이디", exact=True).fill("sinkyu01")
        page.get_by_role("button", name="중복검사").click()
        expect(page.locator("#username-result")).to_have_text("사용할 수 있는 아이디입니다.")
        page.get_by_label("휴대폰번호", exact=True).fill(APPLICANT_MOBILE)
        page.get_by_role("button", name="휴대폰번호 인증").click()
        expect(page.get_by_label("인증번호")).to_be_visible()
        page.get_by_label("기관유형").select_option(label="병의원")
        page.get_by_placeholder("기관명 또는 기관번호").fill("종로")
        page.get_by_role("button", name="검색", exact=True).click()
        page.get_by_label("종로연세의원").check()
        page.get_by_label("인증번호").fill(sms_code(log, APPLICANT_MOBILE))
        page.get_by_role("button", name="확인", exact=True).click()
        expect(page.locator("#mobile-verified")).to_have_text("인증 완료")
        page.get_by_label("기관(부서) 전화번호").fill(OFFICE_PHONE)
        shot(page, "03-profile.png", top="main h2")
        page.get_by_role("button", name="다음", exact=True).click()
        expect(page).to_have_url(f"{base_url}/signup/permissions/")
        page.get_by_label("예방접종관리 User", exact=True).check()
        shot(page, "04-permissions.png")
        page.get_by_role("button", name="권한 신청").click()
        expect(page).to_have_url(f"{base_url}/signup/done/")
        shot(page, "05-done.png")
        page.context.close()

        # The approval queue of the 종로구보건소 officer.
        page = new_page()
        page.goto("/login/")
        sign_in_dialog(page, DEMO / "jongno01.p12", passwords["jongno01"],
                       opener="인증서 로그인")
        confirm_dialog(page)
        expect(page.get_by_role("navigation", name="메뉴보기")).to_be_visible()
        page.goto("/approvals/")
        expect(page.locator("table.approvals tbody tr").first).to_be_visible()
        shot(page, "06-approvals.png")
        page.context.close()

        # 의료기관 부가정보: clinic01 (approved) lands on the form after logging in.
        page = new_page()
        page.goto("/login/")
        sign_in_dialog(page, DEMO / "clinic01.p12", passwords["clinic01"],
                       opener="인증서 로그인")
        confirm_dialog(page)
        expect(page).to_have_url(f"{base_url}/vaccination/institution-info/")
        shot(page, "07-supplementary.png")
        page.context.close()
        browser.close()


def main() -> None:
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kdcis-screenshots-") as tmp:
        folder = Path(tmp)
        env = demo_env(folder)
        print("Preparing the demo database ...")
        manage(env, "migrate", "--noinput")
        manage(env, "load_reference_data")
        summary = manage(env, "load_demo_data")
        passwords = dict(PASSWORD_LINE.findall(summary))
        missing = {"new-applicant", "jongno01", "clinic01"} - passwords.keys()
        if missing:
            sys.exit(f"load_demo_data printed no password for {sorted(missing)}:\n{summary}")
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = folder / "server.log"
        with log.open("w") as log_file:
            server = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                wait_until_up(base_url, server)
                print(f"Demo at {base_url}; writing {OUT.relative_to(ROOT)}/:")
                take(base_url, log, passwords)
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()


if __name__ == "__main__":
    main()
