"""Quirk modes: the reference's documented alternatives to the simulator defaults."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tap_knowbe4.sandbox import QUIRKS, Organization, Sandbox


def test_quirks_change_shapes() -> None:
    plain = Organization(users=40, seed=2)
    quirky = Organization(
        users=40,
        seed=2,
        quirks=("nested-content", "landing-page-hyphen", "risk-timestamp-dates", "trial-account"),
    )
    campaign = quirky.training_campaigns()[0]
    assert campaign["content"] == [plain.training_campaigns()[0]["content"]]
    pst = quirky.security_tests()[0]
    assert "landing-page" in pst
    assert "landing_page" not in pst
    assert "landing_page" in plain.security_tests()[0]
    point = quirky.account_risk_score_history()[0]
    assert point["date"].endswith("T00:00:00.000Z")
    assert point["date"][:10] == plain.account_risk_score_history()[0]["date"]
    account = quirky.account()
    assert account["type"] == "trial"
    assert set(account) == {"name", "type", "domains", "admins", "current_risk_score"}


def test_by_id_array_quirk(make_session: Callable[[Sandbox], requests.Session]) -> None:
    with Sandbox(users=30, limits=False, quirks=("by-id-array",)) as sb, make_session(sb) as s:
        uid = sb.org.users()[0]["id"]
        assert s.get(f"{sb.base_url}/v1/users/{uid}").json() == [sb.org.user(uid)]
        assert isinstance(s.get(sb.base_url + "/v1/account").json(), dict)
        assert isinstance(s.get(sb.base_url + "/v1/users").json(), list)


def test_unknown_quirk_and_option_are_rejected() -> None:
    assert "nested-content" in QUIRKS
    with pytest.raises(ValueError, match="quirk"):
        Sandbox(users=5, quirks=("no-such-quirk",))
    with pytest.raises(TypeError, match="unknown sandbox option"):
        Sandbox(users=5, colour="blue")
    with pytest.raises(ValueError, match="pagination"):
        Sandbox(users=5, pagination="sideways")
