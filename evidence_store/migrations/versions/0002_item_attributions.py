"""item attributions: a second witness, source or collector of the same bytes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:15:00

Items are content-addressed, so a second witness giving the same words (or a second source of
the same file) used to be dropped. This table keeps every further attribution of an item.
Existing workspaces gain an empty table; nothing else changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_attributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("collected_by", sa.Text(), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("witness", sa.Text(), nullable=True),
        sa.Column("statement_date", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["evidence_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("item_attributions")
