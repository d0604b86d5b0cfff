"""rating integrity: issuer keys, who issued each event, ratings held for review, citizen messages

Revision ID: 0009_rating_integrity
Revises: 0008_stats_channel
Create Date: 2026-12-02 11:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_rating_integrity'
down_revision = '0008_stats_channel'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rating_issuers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('department_ids', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_issuers')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_rating_issuers_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_rating_issuers_name'))
    )
    op.create_table('citizen_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('link', sa.Text(), nullable=True),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_citizen_messages_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_messages'))
    )
    with op.batch_alter_table('citizen_messages', schema=None) as batch_op:
        batch_op.create_index('ix_citizen_messages_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_messages_subject_id'), ['subject_id'], unique=False)

    with op.batch_alter_table('service_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issued_via', sa.String(length=16), nullable=False, server_default='system'))
        batch_op.add_column(sa.Column('issuer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('issuer_address', sa.String(length=64), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_service_events_issuer_id_rating_issuers'), 'rating_issuers', ['issuer_id'], ['id'])
    # Events issued through a person's account before this revision say so.
    op.execute("UPDATE service_events SET issued_via = 'staff' WHERE created_by_id IS NOT NULL")

    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_hash', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('client_net_hash', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('review_reasons', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ratings_reviewed_by_id_users'), 'users', ['reviewed_by_id'], ['id'])
        batch_op.create_index('ix_ratings_client_hash_created_at', ['client_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_ratings_client_net_hash_created_at', ['client_net_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_ratings_department_id_created_at', ['department_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ratings_status_pending', ['status', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_ratings_status_pending')
        batch_op.drop_index('ix_ratings_department_id_created_at')
        batch_op.drop_index('ix_ratings_client_net_hash_created_at')
        batch_op.drop_index('ix_ratings_client_hash_created_at')
        batch_op.drop_constraint(batch_op.f('fk_ratings_reviewed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by_id')
        batch_op.drop_column('review_reasons')
        batch_op.drop_column('client_net_hash')
        batch_op.drop_column('client_hash')

    with op.batch_alter_table('service_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_service_events_issuer_id_rating_issuers'), type_='foreignkey')
        batch_op.drop_column('issuer_address')
        batch_op.drop_column('issuer_id')
        batch_op.drop_column('issued_via')

    with op.batch_alter_table('citizen_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_messages_subject_id'))
        batch_op.drop_index('ix_citizen_messages_status_next_attempt_at')

    op.drop_table('citizen_messages')
    op.drop_table('rating_issuers')
