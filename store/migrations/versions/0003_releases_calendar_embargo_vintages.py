"""releases: calendar, embargo, versioned structures, attachments, state counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('public_release', schema=None) as batch_op:
        batch_op.alter_column('published_at', new_column_name='release_time',
                              existing_type=sa.DateTime(timezone=True), existing_nullable=False)
    with op.batch_alter_table('public_release', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.Text(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='published'))
        batch_op.add_column(sa.Column('corrects_ref', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_public_release_corrects_ref'), 'public_release',
                                    ['corrects_ref'], ['id'])
    # Releases published before this schema were published at once, at their time.
    op.execute("UPDATE public_release SET scheduled_at = release_time, published_at = release_time")

    with op.batch_alter_table('public_structure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_ref', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_public_structure_superseded_ref'), 'public_release',
                                    ['superseded_ref'], ['id'])
        batch_op.drop_constraint('uq_public_structure_kind_agency_artefact_id_version', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_public_structure_kind_agency_artefact_id_version_release_ref'),
            ['kind', 'agency', 'artefact_id', 'version', 'release_ref'])

    op.create_table('public_release_dataflow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_ref', sa.Integer(), nullable=False),
    sa.Column('dataflow', sa.String(length=200), nullable=False),
    sa.Column('provisional_from', sa.String(length=20), nullable=True),
    sa.Column('added', sa.Integer(), nullable=True),
    sa.Column('revised', sa.Integer(), nullable=True),
    sa.Column('withdrawn', sa.Integer(), nullable=True),
    sa.Column('withheld', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['release_ref'], ['public_release.id'], name=op.f('fk_public_release_dataflow_release_ref')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_release_dataflow')),
    sa.UniqueConstraint('release_ref', 'dataflow', name=op.f('uq_public_release_dataflow_release_ref_dataflow'))
    )
    op.create_table('public_release_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_ref', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['release_ref'], ['public_release.id'], name=op.f('fk_public_release_attachment_release_ref')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_release_attachment')),
    sa.UniqueConstraint('release_ref', 'name', name=op.f('uq_public_release_attachment_release_ref_name'))
    )
    op.create_table('public_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_state'))
    )
    op.execute("INSERT INTO public_state (id, change) VALUES (1, 0)")
    with op.batch_alter_table('public_observation', schema=None) as batch_op:
        batch_op.create_index('ix_public_observation_superseded', ['superseded_ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('public_observation', schema=None) as batch_op:
        batch_op.drop_index('ix_public_observation_superseded')
    op.drop_table('public_state')
    op.drop_table('public_release_attachment')
    op.drop_table('public_release_dataflow')
    with op.batch_alter_table('public_structure', schema=None) as batch_op:
        batch_op.drop_constraint('uq_public_structure_kind_agency_artefact_id_version_release_ref', type_='unique')
        batch_op.create_unique_constraint('uq_public_structure_kind_agency_artefact_id_version',
                                          ['kind', 'agency', 'artefact_id', 'version'])
        batch_op.drop_constraint('fk_public_structure_superseded_ref', type_='foreignkey')
        batch_op.drop_column('superseded_ref')
    with op.batch_alter_table('public_release', schema=None) as batch_op:
        batch_op.drop_constraint('fk_public_release_corrects_ref', type_='foreignkey')
        for name in ('published_at', 'scheduled_at', 'corrects_ref', 'status', 'title'):
            batch_op.drop_column(name)
    with op.batch_alter_table('public_release', schema=None) as batch_op:
        batch_op.alter_column('release_time', new_column_name='published_at',
                              existing_type=sa.DateTime(timezone=True), existing_nullable=False)
