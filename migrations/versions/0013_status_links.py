"""status links: a rating's (or a 12345 ticket's) reference number and the hash of its private status token

Revision ID: 0013_status_links
Revises: 0012_stats_fold
Create Date: 2026-12-02 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_status_links'
down_revision = '0012_stats_fold'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('status_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_status_links_rating_id_ratings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_links')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_status_links_rating_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_status_links_reference')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_status_links_ticket_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_status_links_token_hash'))
    )


def downgrade():
    op.drop_table('status_links')
