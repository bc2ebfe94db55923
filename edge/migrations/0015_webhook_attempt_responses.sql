-- The receiver's answer to each attempt, so a failed delivery shows why the receiver refused it: the first 4 KiB of
-- its body as text (response_truncated = 1 when there was more), and its Content-Type. Only what the receiver sent
-- back is kept — never our request's headers or signature. NULL body: no response came (timeout, refused).
ALTER TABLE webhook_attempts ADD COLUMN response_body TEXT;
ALTER TABLE webhook_attempts ADD COLUMN response_truncated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_attempts ADD COLUMN response_content_type TEXT;
