"""How many signed-challenge verifications per second one core does.

    python benchmarks/bench_certificates.py [--seconds 3]

Builds a demo CA, a CRL with 1,000 revoked serials and 50 user certificates, then calls
``verify_signed_challenge`` (signature + chain + CRL + key usage + policy) in a loop for about
``--seconds`` seconds in one thread. Needs no Django settings.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts import pki  # noqa: E402
from accounts.certificates import (  # noqa: E402
    CertificateError,
    TrustStore,
    verify_signed_challenge,
)

GOAL_PER_SECOND = 200
USERS = 50
REVOKED = 1_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):  # one core, as the goal says
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    setup_started = time.perf_counter()
    ca = pki.make_ca("KDCIS Bench CA")
    revoked_serials = list(range(10_000, 10_000 + REVOKED))
    crl = pki.make_crl(ca, revoked_serials)
    trust = TrustStore.from_pem_bundle(pki.pem(ca), [pki.pem(crl)])
    # A handful of keys shared by the 50 certificates: key generation is not what we measure.
    keys = [pki.make_key() for _ in range(5)]
    samples = []
    for number in range(USERS):
        key = keys[number % len(keys)]
        issued = pki.make_user_certificate(
            ca, common_name=f"사용자{number:02d}()00100412008052812{number:05d}", key=key,
            serial=100_000 + number,
        )
        challenge = f"bench-challenge-{number:04d}-0123456789abcdefghijklmnop".encode()
        samples.append((issued.der, challenge, pki.sign_challenge(key, challenge)))
    # A revoked certificate must really be refused (the CRL is in use).
    revoked = pki.make_user_certificate(ca, common_name="폐지됨()1", key=keys[0],
                                        serial=revoked_serials[REVOKED // 2])
    try:
        verify_signed_challenge(certificate=revoked.der, challenge=b"x",
                                signature=pki.sign_challenge(keys[0], b"x"), trust=trust)
    except CertificateError as error:
        if error.code != "revoked":
            raise
    else:
        raise AssertionError("the revoked certificate was accepted")
    print(f"setup: {time.perf_counter() - setup_started:.2f} s "
          f"({USERS} certificates, CRL with {REVOKED} revoked serials)")

    for der, challenge, signature in samples:  # warm-up and sanity check
        verify_signed_challenge(certificate=der, challenge=challenge, signature=signature,
                                trust=trust)

    done = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    for der, challenge, signature in itertools.cycle(samples):
        verify_signed_challenge(certificate=der, challenge=challenge, signature=signature,
                                trust=trust)
        done += 1
        if done % 50 == 0 and time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - started
    rate = done / elapsed
    print(f"certificate verifications: {rate:.1f}/s (goal >= {GOAL_PER_SECOND}/s; "
          f"{done} in {elapsed:.2f} s, {1000 / rate:.3f} ms each)")
    return 0 if rate >= GOAL_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
