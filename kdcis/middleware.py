"""Response headers every page gets."""

class ContentSecurityPolicyMiddleware:
    """Only our own origin may serve scripts, styles, images and forms; no inline script."""

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if _is_html(response):
            # Pages carry personal data: never keep them in shared or browser caches.
            response.setdefault("Cache-Control", "no-store")
        return response


def _is_html(response) -> bool:
    return response.get("Content-Type", "").startswith("text/html")
