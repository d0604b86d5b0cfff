"""ratings: find held ratings by (status, local_day), as the statistics count them per period

Revision ID: 0014_pending_by_day
Revises: 0013_status_links
Create Date: 2026-12-02 19:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_pending_by_day'
down_revision = '0013_status_links'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_ratings_status_pending')
        batch_op.create_index('ix_ratings_status_local_day', ['status', 'local_day'], unique=False)


def downgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_ratings_status_local_day')
        batch_op.create_index('ix_ratings_status_pending', ['status', 'created_at'], unique=False)
