"""Printed by `make test` before the suite: which storage backends the run covers."""

import os

if os.environ.get("BATTRACE_TEST_DATABASE_URL"):
    print("storage tests: SQLite and PostgreSQL (" + os.environ["BATTRACE_TEST_DATABASE_URL"] + ")")
else:
    print(
        "storage tests: SQLite only. The PostgreSQL half is SKIPPED: set "
        "BATTRACE_TEST_DATABASE_URL=postgresql://USER@HOST/DB to run it."
    )
