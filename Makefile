# Two commands on a fresh machine: `make run` (PORT=8001 HOST=0.0.0.0 to change where it
# listens) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Local development environment for `make run` (DEBUG on, plain HTTP, console SMS, demo PKI).
RUN_ENV := DEBUG=true SECURE=false SMS_BACKEND=console \
	CERT_TRUST_ANCHORS=var/demo/ca.pem CERT_CRL_PATHS=var/demo/crl.pem

.PHONY: setup run test test-fast lint check-deploy screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

run: setup
	mkdir -p var
	env $(RUN_ENV) $(PY) manage.py migrate --noinput
	env $(RUN_ENV) $(PY) manage.py load_reference_data
	env $(RUN_ENV) $(PY) manage.py load_demo_data
	@echo "Serving the portal at http://$(HOST):$(PORT)/  (demo credentials above, also in var/demo/README.txt)"
	@# The SMS outbox worker runs beside the dev server, so revocation notices and decision
	@# messages are delivered (to the console) instead of waiting in the outbox.
	@env $(RUN_ENV) $(PY) manage.py deliver_sms --loop --interval 2 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	env $(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

# The whole suite. With DATABASE_URL=postgres://... it runs on PostgreSQL; without, on SQLite,
# skipping only the tests marked `postgres` (pytest's summary names each skip).
# Two pytest-xdist workers, each with its own test database (test_<name>_gw0, _gw1), live
# server and Chromium; the servers tests start take free ports. TEST_WORKERS=0 runs the
# suite in one process (for pdb, or to read one test's output in order).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

test: setup
	$(PYTEST) $(PYTEST_ARGS)

# The edit loop: everything but the Chromium (browser and axe) tests.
test-fast: setup
	$(PYTEST) -m "not browser" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

# Production settings with what a real deployment gives: a real SMS backend (dummy Twilio
# credentials: nothing is sent) and a trust anchor of its own with its CRL (a throwaway CA
# made here: the demo CA is refused, kdcis.E004), behind one proxy.
CHECK_DEPLOY_PKI := from pathlib import Path; import sys; from accounts import pki; \
	d = Path(sys.argv[1]); ca = pki.make_ca('Check Deploy Root CA', organization='check-deploy'); \
	(d / 'anchors.pem').write_bytes(pki.pem(ca.cert)); \
	(d / 'ca.crl').write_bytes(pki.pem(pki.make_crl(ca, [])))

check-deploy: setup
	@tmp=$$(mktemp -d) && $(PY) -c "$(CHECK_DEPLOY_PKI)" $$tmp && \
	env SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ALLOWED_HOSTS=portal.example.kr \
		SMS_BACKEND=twilio TWILIO_ACCOUNT_SID=ACcheckdeploy TWILIO_AUTH_TOKEN=check-deploy \
		TWILIO_FROM_NUMBER=+15005550006 TRUSTED_PROXY_HOPS=1 \
		CERT_TRUST_ANCHORS=$$tmp/anchors.pem CERT_CRL_PATHS=$$tmp/ca.crl \
		$(PY) manage.py check --deploy --fail-level WARNING; \
	status=$$?; rm -rf $$tmp; exit $$status

screenshots: setup
	$(PY) benchmarks/screenshots.py

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache
