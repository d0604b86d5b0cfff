"""The statistics job: fold the queued rating changes into the rollups (see reports.stats.fold)."""

from core.scheduler import Job
from reports.stats.fold import fold


def fold_changes() -> str:
    """Fold everything queued, one commit per batch of STATS_FOLD_BATCH changes."""
    return f"{fold()} changes folded"


JOBS = [Job("reports.stats-fold", fold_changes, "STATS_FOLD_SECONDS")]
