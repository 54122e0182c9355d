import pytest

from tap_knowbe4.errors import ConfigError
from tap_knowbe4.regions import resolve_base_url, resolve_region


@pytest.mark.parametrize(
    ("value", "region"),
    [
        (None, "us"),
        ("us", "us"),
        ("EU", "eu"),
        (" ca ", "ca"),
        ("uk", "uk"),
        ("de", "de"),
        ("training.knowbe4.com", "us"),
        ("https://training.knowbe4.com/ui/dashboard", "us"),
        ("eu.knowbe4.com", "eu"),
        ("https://eu.knowbe4.com/ui/users", "eu"),
        ("https://DE.KnowBe4.com", "de"),
        ("uk.api.knowbe4.com", "uk"),
        ("https://ca.api.knowbe4.com/v1/users", "ca"),
    ],
)
def test_region_accepts_codes_hosts_and_urls(value, region):
    assert resolve_region(value) == region


@pytest.mark.parametrize("value", ["apac", "training", "eu.knowbe4.co", "https://example.com", "x"])
def test_unknown_region_lists_the_valid_ones(value):
    with pytest.raises(ConfigError, match="us, eu, ca, uk, de"):
        resolve_region(value)


def test_region_picks_the_api_host():
    assert resolve_base_url("eu.knowbe4.com", None) == "https://eu.api.knowbe4.com"
    assert resolve_base_url(None, None) == "https://us.api.knowbe4.com"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:9/", "http://[::1]:8080", "https://proxy.corp/kb4"],
)
def test_api_url_allowed(url):
    assert resolve_base_url("us", url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://proxy.corp:8080", "http://10.0.0.5", "ftp://x", "nonsense"]
)
def test_api_url_refused(url):
    with pytest.raises(ConfigError):
        resolve_base_url("us", url)
