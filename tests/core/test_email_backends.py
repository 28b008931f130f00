import io

from django.core.mail import EmailMessage

from apps.core.email_backends import SummaryConsoleEmailBackend


def test_the_summary_backend_writes_one_line_per_message():
    stream = io.StringIO()
    backend = SummaryConsoleEmailBackend(stream=stream)
    messages = [
        EmailMessage("Order placed", "A long body\nover lines", to=["a@example.com"]),
        EmailMessage("Low stock", "Body", to=["b@example.com"], cc=["c@example.com"]),
    ]

    assert backend.send_messages(messages) == 2
    assert stream.getvalue() == (
        "email to a@example.com: Order placed\nemail to b@example.com, c@example.com: Low stock\n"
    )
