"""Start-up and decoding: `atom-host plugins` vs importing the SDK; one 100-record page decoded
by our models vs the SDK's generated models.

    python -m bench.start_decode [--runs 5] [--decode-loops 300]

Start-up is wall time of a fresh interpreter (median of --runs), with `python -c pass` shown
so the interpreter's own start can be subtracted by eye. Decoding starts from the raw bytes of
a HubSpot-shaped page (json parse included on both sides).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench._harness import PYTHON, ROOT, Stopwatch, Table, median, ratio, start_up_env

PROPS = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "lifecyclestage",
    "hs_lead_status",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
)


def hubspot_page(n: int = 100) -> bytes:
    """A contacts list page exactly in HubSpot's documented shape (values are strings)."""
    results = []
    for i in range(n):
        cid = str(1000 + i)
        results.append(
            {
                "id": cid,
                "properties": {
                    "email": f"person{i}@example.com",
                    "firstname": f"First{i}",
                    "lastname": f"Last{i}",
                    "phone": f"+1 555 01{i:02d}",
                    "company": "Acme",
                    "lifecyclestage": "lead",
                    "hs_lead_status": None,
                    "createdate": "2026-01-02T03:04:05.678Z",
                    "lastmodifieddate": "2026-02-03T04:05:06.789Z",
                    "hs_object_id": cid,
                },
                "createdAt": "2026-01-02T03:04:05.678Z",
                "updatedAt": "2026-02-03T04:05:06.789Z",
                "archived": False,
            }
        )
    return json.dumps(
        {
            "results": results,
            "paging": {"next": {"after": "1100", "link": "https://api.hubapi.com/x"}},
        }
    ).encode()


def ours_decoder() -> Any:
    """Our client's page decoding (bytes → ObjectPage)."""
    from atom_hubspot.client.caller import next_after
    from atom_hubspot.client.models import CrmObject, ObjectPage

    # What ObjectsAPI.list does with an answer's body.
    def decode(raw: bytes) -> ObjectPage:
        body = json.loads(raw)
        return ObjectPage(
            results=[CrmObject.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    return decode


def sdk_decoder() -> Any:
    from hubspot.crm.contacts import ApiClient

    api = ApiClient()
    kind = "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"
    return lambda raw: api.deserialize(SimpleNamespace(data=raw), kind)


def time_start(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys) of `cmd` in a fresh process. CPU time
    is the steadier figure on a busy machine."""
    walls, cpus = [], []
    # Untimed first run: fills the bytecode caches (see start_up_env).
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return median(walls), median(cpus)


def time_decode(decode: Any, raw: bytes, loops: int) -> float:
    decode(raw)  # warm (imports, validators built)
    best = []
    for _ in range(5):
        with Stopwatch() as sw:
            for _ in range(loops):
                decode(raw)
        best.append(sw.elapsed / loops)
    return min(best)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--decode-loops", type=int, default=300)
    a = ap.parse_args(argv)
    import base64
    import secrets

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    # A complete configuration, so `atom-host plugins` validates rather than stops early.
    cache = tempfile.TemporaryDirectory(prefix="atom-start-pycache-")
    env = start_up_env(
        {
            **os.environ,
            "HUBSPOT_CLIENT_ID": "bench-client-id",
            "HUBSPOT_CLIENT_SECRET": "bench-client-secret",
            "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{key}",
        },
        cache.name,
    )
    atom_host = str(Path(PYTHON).parent / "atom-host")

    t = Table(
        f"Start-up (fresh interpreter, median of {a.runs})",
        ["command", "wall ms", "CPU ms", "CPU vs SDK import"],
    )
    base = time_start([PYTHON, "-c", "pass"], a.runs, env)
    sdk = time_start([PYTHON, "-c", "from hubspot import HubSpot"], a.runs, env)
    sdk_ready = time_start(
        [
            PYTHON,
            "-c",
            "from hubspot import HubSpot; HubSpot(access_token='x').crm.contacts.basic_api",
        ],
        a.runs,
        env,
    )
    rows = [
        ("python -c pass", base),
        ('python -c "from hubspot import HubSpot"', sdk),
        ("SDK + contacts API object built", sdk_ready),
    ]
    try:
        ours = time_start([atom_host, "plugins"], a.runs, env)
        rows.append(("atom-host plugins (discover, import, validate)", ours))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        t.notes.append(f"atom-host plugins failed: {exc}")
    try:
        client_imp = time_start([PYTHON, "-c", "import atom_hubspot.client"], a.runs, env)
        rows.append(('python -c "import atom_hubspot.client"', client_imp))
    except subprocess.CalledProcessError as exc:
        t.notes.append(f"importing atom_hubspot.client failed: {exc}")
    for name, (wall, cpu) in rows:
        t.add(name, wall * 1000, cpu * 1000, ratio(cpu, sdk[1]))
    t.print()

    raw = hubspot_page(100)
    d = Table(
        f"Decode one 100-contact page ({len(raw):,} bytes, json parse included)",
        ["decoder", "µs/page", "pages/s", "SDK ÷ ours"],
    )
    sdk_t = time_decode(sdk_decoder(), raw, a.decode_loops)
    try:
        ours_t = time_decode(ours_decoder(), raw, a.decode_loops)
        d.add("atom-hubspot ObjectPage", ours_t * 1e6, 1 / ours_t, ratio(sdk_t, ours_t))
    except Exception as exc:
        d.notes.append(f"our decoder unavailable: {type(exc).__name__}: {exc}")
    d.add("hubspot-api-client models", sdk_t * 1e6, 1 / sdk_t, "1.00x")
    d.print()
    cache.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
