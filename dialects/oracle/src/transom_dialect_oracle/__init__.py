"""Oracle dialect for Transom (python-oracledb)."""
