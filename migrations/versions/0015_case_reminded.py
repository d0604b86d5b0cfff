"""rectification cases: the day-before reminder is marked on the case

A case was marked reminded by its `case_due_soon` notification, so a case of a department without
handlers was never marked and every sweep took it again. Cases already reminded keep that mark.

Revision ID: 0015_case_reminded
Revises: 0014_pending_by_day
Create Date: 2026-12-03 15:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_case_reminded'
down_revision = '0014_pending_by_day'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rectification_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE rectification_cases SET reminded_at = ("
        " SELECT min(n.created_at) FROM notifications n"
        " WHERE n.kind = 'case_due_soon' AND n.subject_type = 'case' AND n.subject_id = rectification_cases.id)"
    )


def downgrade():
    with op.batch_alter_table('rectification_cases', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
