"""Backups: `flask db backup` then `flask db restore` brings the data back, on both databases."""

from sqlalchemy import select

from core.db import db
from core.models import Department


def test_backup_and_restore_round_trip(fresh_app, tmp_path):
    runner = fresh_app.test_cli_runner()
    with fresh_app.app_context():
        db.session.add(Department(code="KEEP", name="保留", region_code="460100"))
        db.session.commit()
        target = tmp_path / "backup.bin"
        result = runner.invoke(args=["db", "backup", "--output", str(target)])
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 0

        db.session.add(Department(code="LATER", name="之后", region_code="460100"))
        db.session.execute(Department.__table__.delete().where(Department.code == "KEEP"))
        db.session.commit()

        result = runner.invoke(args=["db", "restore", str(target), "--yes"])
        assert result.exit_code == 0, result.output
        codes = set(db.session.scalars(select(Department.code)))
        assert codes == {"KEEP"}
        db.session.remove()
