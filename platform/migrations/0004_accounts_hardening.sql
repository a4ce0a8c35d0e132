-- Accounts hardening: hashed session tokens, an idle timeout, several live SMS codes per phone,
-- failed sign-in attempts for the per-address and global limits, and indexes for the janitor's purges.

-- Sessions keep only SHA-256(token), hex; the raw token is handed out once and never stored.
-- Existing sessions held raw tokens, which cannot be hashed in SQL, so they are dropped:
-- shoppers sign in again (anonymous shoppers get a fresh session on their next write, and the
-- carts of their old session are purged by the janitor as orphans).
DROP TABLE sessions;
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    user_id      TEXT REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    -- Absolute end of the session, however busy it is.
    expires_at   INTEGER NOT NULL,
    -- Refreshed at most every few minutes by use; too old means idle too long.
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- Every code sent stays valid until it expires, is used (signing in uses up all of the phone's
-- codes) or runs out of attempts: a new request no longer cancels the code in the shopper's hand.
-- Codes are short-lived, so pending ones are simply dropped.
DROP TABLE sms_codes;
CREATE TABLE sms_codes (
    phone      TEXT NOT NULL,
    code       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sms_codes_by_phone ON sms_codes (phone, expires_at);
CREATE INDEX sms_codes_by_expiry ON sms_codes (expires_at);

-- Wrong sign-in codes, for the per-address and global limits.
CREATE TABLE login_failures (
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX login_failures_by_ip ON login_failures (ip, at);
CREATE INDEX login_failures_by_age ON login_failures (at);

-- For the janitor: old rows are found by age without scanning the tables.
CREATE INDEX sms_sends_by_age ON sms_sends (sent_at);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
