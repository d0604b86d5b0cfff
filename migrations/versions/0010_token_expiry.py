"""api_tokens.expires_at: bearer tokens may carry an expiry

Revision ID: 0010_token_expiry
Revises: 0009_rating_integrity
Create Date: 2026-12-02 11:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_token_expiry'
down_revision = '0009_rating_integrity'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
