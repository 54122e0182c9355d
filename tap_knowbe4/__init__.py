"""tap-knowbe4: a Singer tap for the KnowBe4 Reporting API."""
