"""Same seed, same requests → byte-identical bodies (and the same request ids)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tap_knowbe4.sandbox import Sandbox

pytestmark = pytest.mark.slow  # orgs built twice: `make test`, not `make test-fast`


def crawl(sb: Sandbox, s: requests.Session) -> list[tuple[str, bytes, str]]:
    """GET every endpoint (two pages of each list) and keep (path, body, request id)."""
    org = sb.org
    group = org.groups()[0]["id"]
    user = org.users()[0]["id"]
    campaign = org.phishing_campaigns()[0]["campaign_id"]
    pst = org.security_tests()[-1]["pst_id"]
    recipient = org.recipients(pst)[0]["recipient_id"]
    paths = [
        "/account", "/account/risk_score_history?full=true", "/users?expand=group",
        f"/users/{user}", f"/users/{user}/risk_score_history", "/groups", f"/groups/{group}",
        f"/groups/{group}/members", f"/groups/{group}/risk_score_history", "/phishing/campaigns",
        f"/phishing/campaigns/{campaign}", f"/phishing/campaigns/{campaign}/security_tests",
        "/phishing/security_tests", f"/phishing/security_tests/{pst}",
        f"/phishing/security_tests/{pst}/recipients",
        f"/phishing/security_tests/{pst}/recipients/{recipient}", "/training/store_purchases",
        "/training/policies", "/training/campaigns", "/training/enrollments?cursor=true",
        f"/training/store_purchases/{org.store_purchases()[0]['store_purchase_id']}",
        f"/training/policies/{org.policies()[0]['policy_id']}",
        f"/training/campaigns/{org.training_campaigns()[0]['campaign_id']}",
        f"/training/enrollments/{org.enrollments()[0]['enrollment_id']}",
    ]  # fmt: skip
    out = []
    for path in paths:
        for page in (1, 2):
            sep = "&" if "?" in path else "?"
            resp = s.get(f"{sb.base_url}/v1{path}{sep}page={page}&per_page=50")
            assert resp.status_code == 200, path
            out.append((path, resp.content, resp.headers["X-Request-Id"]))
    return out


def test_same_seed_byte_identical(make_session: Callable[[Sandbox], requests.Session]) -> None:
    runs = []
    for _ in range(2):
        with Sandbox(users=80, seed=21, limits=False) as sb, make_session(sb) as s:
            before = crawl(sb, s)
            sb.advance(days=3)
            sb.advance(days=4)
            runs.append((before, crawl(sb, s)))
    assert runs[0] == runs[1]
    with Sandbox(users=80, seed=21, limits=False) as sb, make_session(sb) as s:
        sb.advance(days=7)
        once = [(p, body) for p, body, _rid in crawl(sb, s)]
    assert once == [(p, body) for p, body, _rid in runs[0][1]]
    with Sandbox(users=80, seed=22, limits=False) as sb, make_session(sb) as s:
        other = crawl(sb, s)
    assert [body for _p, body, _r in other] != [body for _p, body, _r in runs[0][0]]
