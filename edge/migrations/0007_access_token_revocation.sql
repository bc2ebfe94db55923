-- Access tokens can be revoked (by their workspace or the admin): a revoked token stays listed for the audit trail,
-- and authentication only accepts rows where revoked_at is NULL.
ALTER TABLE access_tokens ADD COLUMN revoked_at TEXT;
CREATE INDEX access_tokens_by_workspace ON access_tokens (workspace_id, created_at);
