"""What a user reads when the config is wrong (principle 8), word for word.

The message is the whole interface of a refused config: the key as the user wrote it, the
value, what is allowed, every problem at once. tests/unit/config_errors.yaml holds one case per
problem the config package can report (a stack and its overrides) with the exact message it
must give, so a change of wording, key or value in any of them is a visible, reviewed diff.
Rewrite the messages (keeping the cases) after a deliberate change by running this file:
`venv/bin/python -m tests.unit.test_config_messages`; then read the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config import ConfigError
from testing import harness

CASES_FILE = Path(__file__).with_name("config_errors.yaml")
CASES = yaml.safe_load(CASES_FILE.read_text())


def _message(case: dict) -> list[str]:
    """The lines of the ConfigError the case's config raises ([] if it is accepted)."""
    try:
        harness.parsed_config(case["stack"], case["overrides"])
    except ConfigError as err:
        return str(err).split("\n")
    return []


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['stack']}" for i, c in enumerate(CASES)])
def test_the_message_is_exactly_what_the_user_reads(case):
    assert _message(case) == case["message"]


def test_every_case_is_refused_and_no_two_say_the_same():
    messages = ["\n".join(c["message"]) for c in CASES]
    assert all(messages) and len(set(messages)) == len(messages)


if __name__ == "__main__":
    for case in CASES:
        case["message"] = _message(case)
    CASES_FILE.write_text(
        "# Bad configs and the exact message each gives (tests/unit/test_config_messages.py).\n"
        # Non-ASCII escaped: with allow_unicode PyYAML writes NEL and U+2028 raw and reads them back as spaces.
        + yaml.safe_dump(CASES, sort_keys=False, width=1000)
    )
