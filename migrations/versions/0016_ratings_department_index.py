"""ratings: no index on department_id alone

`ix_ratings_department_id_created_at` begins with the same column and serves every look-up by
department (the foreign key's checks included); the index of its own only cost each rating's
insert one more B-tree to write.

Revision ID: 0016_ratings_department_index
Revises: 0015_case_reminded
Create Date: 2026-12-04 16:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_ratings_department_index'
down_revision = '0015_case_reminded'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_ratings_department_id', table_name='ratings')


def downgrade():
    op.create_index('ix_ratings_department_id', 'ratings', ['department_id'], unique=False)
