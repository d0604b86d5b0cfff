"""reporting: the acknowledgement log kept when acknowledged outbox rows are pruned

Revision ID: 0011_reporting_ack_days
Revises: 0010_token_expiry
Create Date: 2026-12-02 11:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_reporting_ack_days'
down_revision = '0010_token_expiry'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reporting_ack_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('acknowledged', sa.Integer(), nullable=False),
    sa.Column('first_id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('first_sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reporting_ack_days')),
    sa.UniqueConstraint('local_day', 'kind', name=op.f('uq_reporting_ack_days_local_day_kind'))
    )


def downgrade():
    op.drop_table('reporting_ack_days')
