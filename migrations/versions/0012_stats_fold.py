"""stats: rollups folded by a job from a queue of rating changes; the version row goes

Revision ID: 0012_stats_fold
Revises: 0011_reporting_ack_days
Create Date: 2026-12-02 11:50:00

The rollups built until now stay as they are (they were exact at every commit); the watermark row
is created with a fresh token, and the old `stats_versions` row, updated by every rating, is
dropped.
"""
import uuid
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_stats_fold'
down_revision = '0011_reporting_ack_days'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stats_rating_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=True),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('service_item_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Integer(), nullable=False),
    sa.Column('rater_type', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('low_trust', sa.Boolean(), nullable=False),
    sa.Column('n1', sa.Integer(), nullable=False),
    sa.Column('n2', sa.Integer(), nullable=False),
    sa.Column('n3', sa.Integer(), nullable=False),
    sa.Column('n4', sa.Integer(), nullable=False),
    sa.Column('n5', sa.Integer(), nullable=False),
    sa.Column('voided', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_rating_changes'))
    )
    state = op.create_table('stats_fold_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('folded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('folded_rows', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_fold_state'))
    )
    op.bulk_insert(state, [{'id': 1, 'token': uuid.uuid4().hex, 'folded_at': datetime.now(timezone.utc), 'folded_rows': 0}])
    op.drop_table('stats_versions')


def downgrade():
    # Changes still queued are not in the rollups: run `flask stats rebuild` after downgrading.
    op.create_table('stats_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_versions'))
    )
    op.drop_table('stats_fold_state')
    op.drop_table('stats_rating_changes')
