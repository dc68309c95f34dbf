"""Services: what the HTTP layer and plugins call (items, users, schema admin, config
export). A regular package, so import analysis (grimp, import-linter) sees its modules."""
