"""stats: a province-wide rollup by day, channel and rater type

Revision ID: 0008_stats_channel
Revises: 0007_stats
Create Date: 2026-11-27 13:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_stats_channel'
down_revision = '0007_stats'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stats_channel_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('channel', sa.Integer(), nullable=False),
    sa.Column('rater_type', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('n1', sa.Integer(), nullable=False),
    sa.Column('n2', sa.Integer(), nullable=False),
    sa.Column('n3', sa.Integer(), nullable=False),
    sa.Column('n4', sa.Integer(), nullable=False),
    sa.Column('n5', sa.Integer(), nullable=False),
    sa.Column('voided', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_channel_days')),
    sa.UniqueConstraint('local_day', 'channel', 'rater_type', 'is_default', name=op.f('uq_stats_channel_days_local_day_channel_rater_type_is_default'))
    )
    # Filled from the fine rollup, so a database with ratings has the new figures at once.
    op.execute(
        "INSERT INTO stats_channel_days (local_day, channel, rater_type, is_default, n1, n2, n3, n4, n5, voided) "
        "SELECT local_day, channel, rater_type, is_default, "
        "CAST(SUM(n1) AS INTEGER), CAST(SUM(n2) AS INTEGER), CAST(SUM(n3) AS INTEGER), "
        "CAST(SUM(n4) AS INTEGER), CAST(SUM(n5) AS INTEGER), CAST(SUM(voided) AS INTEGER) "
        "FROM stats_rating_days GROUP BY local_day, channel, rater_type, is_default"
    )


def downgrade():
    op.drop_table('stats_channel_days')
