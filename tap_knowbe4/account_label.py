"""The account's name on the tap's log lines (the ``account_label`` setting).

A fleet of accounts sends its logs to one place. Meltano prefixes each line with the plugin
name; other runners (cron, a container, an orchestrator's log view) do not. With
``account_label`` set, every line the tap's own loggers (``tap-knowbe4`` and its children:
streams, ledger, progress) write starts with ``[label]``, and the record carries the label as
its ``account`` attribute, which the SDK's structured (JSON) log format prints as a field.
Unset, nothing changes.

The label is put on by a filter on the root logger's handlers, where every tap line passes;
a record is labelled once however many handlers it reaches.
"""

from __future__ import annotations

import logging

TAP_LOGGER = "tap-knowbe4"


class AccountLabelFilter(logging.Filter):
    """Labels the records of the tap's loggers with the current account label."""

    label: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Prefix the message and set ``record.account``; never drops a record."""
        label = AccountLabelFilter.label
        if (
            label
            and not getattr(record, "_account_labelled", False)
            and (record.name == TAP_LOGGER or record.name.startswith(TAP_LOGGER + "."))
        ):
            record.account = label
            record._account_labelled = True
            if isinstance(record.msg, str):
                # The label has no '%' (the setting allows none), so %-formatting is unchanged.
                record.msg = f"[{label}] {record.msg}"
        return True


def label_logs(label: str | None) -> None:
    """Label the tap's log lines with ``label`` from now on (``None``: no label)."""
    AccountLabelFilter.label = label
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, AccountLabelFilter) for f in handler.filters):
            handler.addFilter(AccountLabelFilter())
