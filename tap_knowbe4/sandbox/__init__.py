"""A faithful, stateful local emulator of the KnowBe4 Reporting API (v1).

Demo API key (accepted by default): ``kb4-sandbox-demo-key-0000000000000000``; send it as
``Authorization: Bearer kb4-sandbox-demo-key-0000000000000000``. Choose another with ``api_key=``
(``--api-key``).

Python face (for tests)::

    from tap_knowbe4.sandbox import Sandbox

    with Sandbox(users=250, seed=1, limits=False) as sb:   # profile="documented" (default)
        sb.base_url          # "http://127.0.0.1:<port>"; API paths are base_url + "/v1/..."
        sb.api_key           # the accepted key
        sb.org.users()       # ground truth: exactly what GET /v1/users returns (all pages)
        sb.advance(days=7)   # move the sandbox clock; new PSTs, users, enrollments appear
        sb.stats()           # request counters, same as GET /_sandbox/stats
        sb.inject("503", path_prefix="/v1/users", count=2)
        sb.paging.min_requests("/v1/users", len(sb.org.users()), 500)  # paging rules

Profiles (``profile=``, ``--profile``): ``documented`` (default; the reference's conservative
reading: messy data, cursors only on enrollments, no ``Retry-After``), ``tidy`` (the sandbox
before profiles) and ``hostile`` (every uncertain reading too); see ``options.PROFILES``.

Command-line face: ``tap-knowbe4-sandbox --port 8765 [options]`` (or ``python -m
tap_knowbe4.sandbox``) prints its base URL and key and serves until interrupted. Every keyword
option of ``Sandbox`` is also a flag (``_`` becomes ``-``). See the README's sandbox section.

The sandbox depends only on the standard library and never imports the tap.
"""

from tap_knowbe4.sandbox.harness import Sandbox
from tap_knowbe4.sandbox.options import DEMO_API_KEY, QUIRKS
from tap_knowbe4.sandbox.org import NotFound, Organization

__all__ = ["DEMO_API_KEY", "QUIRKS", "NotFound", "Organization", "Sandbox"]
