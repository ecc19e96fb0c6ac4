"""Knowledge-base revisions also keep the topic files (``topics/*.yml``), as JSON.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kb_revisions", sa.Column("topic_files", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_revisions") as batch:
        batch.drop_column("topic_files")
