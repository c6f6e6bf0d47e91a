"""What opening a certificate costs in the browser: NPKI SEED keys beside forge's AES .p12.

    python benchmarks/bench_npki_browser.py [--rounds 15]

Runs the page's own code (static/js/seed.js + certificate.js + node-forge) in the OS
Chromium on one page and, round after round, alternates:

- ``KdcisCert.signWith`` on an NPKI folder with a SEED pbeWithSHA1AndSeed-CBC signPri.key,
- the same with a PBES2 + SEED-CBC key,
- the same with a SEED .p12, and
- ``KdcisCert.signChallenge`` on an AES-256 .p12 as OpenSSL 3 writes it (forge only),

each from file bytes to signature (PBKDF, decryption, key parsing, RSA signature), and raw
SEED-CBC decryption of 64 KiB against forge's AES-128-CBC on the same bytes. Prints the
medians and the median of the per-round ratios (so the shared machine's load cancels out).
The NPKI keys use 2048 iterations, as NPKI software does; the AES .p12 is what
``cryptography`` writes by default, with many more PBKDF2 and MAC iterations: most of its
time is that, not AES.
Needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH) and the npm packages; no server.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts import npki, pki  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "bench-Pass-2026!"

RUN_ROUND = """async (files) => {
  const asFile = (item) => {
    const bytes = Uint8Array.from(atob(item.data), (c) => c.charCodeAt(0));
    return new File([bytes], item.name);
  };
  const out = {};
  const time = async (label, fn) => {
    const started = performance.now();
    await fn();
    out[label] = performance.now() - started;
  };
  for (const kind of ['pbes1', 'pbes2']) {
    const found = await KdcisCert.findCertificates(
      [asFile(files[kind + '_cert']), asFile(files[kind + '_key'])]);
    await time('npki_' + kind, () => KdcisCert.signWith(found[0], files.password, 'bench'));
  }
  await time('seed_p12', () => KdcisCert.signChallenge(asFile(files.seed_p12), files.password,
                                                      'bench'));
  await time('aes_p12', () => KdcisCert.signChallenge(asFile(files.aes_p12), files.password,
                                                     'bench'));
  const data = new Uint8Array(65536).map((_, i) => i & 0xff);
  const key = new Uint8Array(16).fill(7), iv = new Uint8Array(16).fill(9);
  await time('seed_cbc_64k', async () => { KdcisSeed.cbcDecrypt(key, iv, data); });
  let binary = '';
  for (let i = 0; i < data.length; i++) binary += String.fromCharCode(data[i]);
  await time('forge_aes_cbc_64k', async () => {
    const d = forge.cipher.createDecipher('AES-CBC', forge.util.createBuffer('k'.repeat(16)));
    d.start({iv: 'i'.repeat(16)});
    d.update(forge.util.createBuffer(binary));
    d.finish(() => true);  // raw blocks: no padding check
  });
  return out;
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    ca = pki.make_ca("KDCIS Bench CA")
    issued = pki.make_user_certificate(ca, common_name="홍길동()0010041200805281000001")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    files = {"password": PASSWORD}
    for kind in ("pbes1", "pbes2"):
        files[f"{kind}_cert"] = {"name": "signCert.der", "data": b64(issued.der)}
        files[f"{kind}_key"] = {"name": "signPri.key", "data": b64(
            npki.encrypt_private_key(issued.key, PASSWORD, scheme=kind))}
    files["seed_p12"] = {"name": "seed.p12", "data": b64(
        npki.to_seed_p12(issued, PASSWORD, ca=ca, scheme="pbes2"))}
    files["aes_p12"] = {"name": "aes.p12", "data": b64(pki.to_p12(issued, PASSWORD, ca=ca))}

    forge_js = ROOT / "node_modules" / "node-forge" / "dist" / "forge.min.js"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.set_content("<!doctype html><title>bench</title>")
        for script in (forge_js, ROOT / "static" / "js" / "seed.js",
                       ROOT / "static" / "js" / "certificate.js"):
            page.add_script_tag(path=str(script))
        page.evaluate(RUN_ROUND, files)  # warm-up: JIT, forge's tables
        rounds = [page.evaluate(RUN_ROUND, files) for _ in range(args.rounds)]
        browser.close()

    def median(label: str) -> float:
        return statistics.median(r[label] for r in rounds)

    def ratio(a: str, b: str) -> float:
        return statistics.median(r[a] / r[b] for r in rounds)

    print(f"{args.rounds} rounds in Chromium, each opening every file once, side by side")
    for label in ("npki_pbes1", "npki_pbes2", "seed_p12", "aes_p12"):
        print(f"  {label:<18} median {median(label):7.1f} ms  "
              f"({ratio(label, 'aes_p12'):.2f} x the AES .p12)")
    print(f"  SEED-CBC 64 KiB    median {median('seed_cbc_64k'):7.1f} ms  "
          f"({ratio('seed_cbc_64k', 'forge_aes_cbc_64k'):.2f} x forge's AES-CBC, "
          f"median {median('forge_aes_cbc_64k'):.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
