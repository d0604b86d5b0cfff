"""The delivery job: thin, idempotent, commits per row (see delivery.deliver_due)."""

from reports.provincial import delivery

JOB_NAME = "reports.provincial-delivery"


def deliver_reports() -> str:
    """Send what is due to the provincial platform; idles without REPORTING_URL."""
    return delivery.deliver_due().summary()
