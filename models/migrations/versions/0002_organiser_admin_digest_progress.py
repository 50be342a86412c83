"""organiser.is_admin; digest_log.parts_sent and claimed_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organiser", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("digest_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_at", models.tables.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_log", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("parts_sent")
    with op.batch_alter_table("organiser", schema=None) as batch_op:
        batch_op.drop_column("is_admin")
