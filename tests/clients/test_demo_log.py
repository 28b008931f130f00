"""What `make run` prints while it seeds the demo data: a short, readable log (one line per
demo e-mail, no Celery task traces) that ends with the demo logins."""

import re


def test_seeding_the_demo_prints_a_short_log_ending_with_the_logins(demo_server):
    lines = demo_server.seed_log.read_text().splitlines()

    assert len(lines) < 80, len(lines)  # was about 1,400
    assert not [line for line in lines if "celery" in line.lower()]
    emails = [line for line in lines if line.startswith("email to ")]
    assert emails, "the demo sends notification e-mails"
    assert all(re.fullmatch(r"email to \S+@\S+: \[Marketplace\] .+", line) for line in emails)
    assert "Demo logins (password for all: demo-pass-2024)" in lines
    assert lines[-1].startswith("API docs: ")
    assert any(line.split()[:1] == ["customer@example.com"] for line in lines[-6:])
