"""Runs scim2-tester (PyPI) against a live Rampart SCIM endpoint and prints one JSON line
per check: its status, title, resource type and reason.

    python check.py BASE_URL   # the token in SCIM_TOKEN, never on the command line

SCIM_TAGS (comma-separated) runs only the checks of those tags; SCIM_TRACE=1 prints every
request and response to standard error.

The server's certificate is the test's throw-away one, so TLS verification is off: this is a
loopback test of the protocol, not of the certificate.
"""

import json
import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def main() -> None:
    base = sys.argv[1]
    token = os.environ["SCIM_TOKEN"]
    http = Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        verify=False,
        timeout=30,
    )
    if os.environ.get("SCIM_TRACE"):
        def trace(response):
            response.read()
            request = response.request
            body = request.content.decode(errors="replace")[:2000]
            print(f"{request.method} {request.url} {body}\n  -> {response.status_code} {response.text[:2000]}", file=sys.stderr)
        http.event_hooks["response"] = [trace]
    tags = set(filter(None, os.environ.get("SCIM_TAGS", "").split(","))) or None
    client = SyncSCIMClient(http)
    for result in check_server(client, include_tags=tags):
        print(
            json.dumps(
                {
                    "status": result.status.name,
                    "title": result.title,
                    "resource_type": result.resource_type,
                    "reason": str(result.reason) if result.reason else None,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
