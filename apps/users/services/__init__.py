"""Writes of the users app, one module per subject: `sessions`, `accounts`, `addresses`,
`api_keys`. Import from the module you need; this package exports nothing."""
