-- Secrets stored per namespace for `secret('NAME')`, encrypted at rest with
-- the data dir's key (engine/src/secret_key.rs): `value` is the nonce, then
-- the AES-256-GCM ciphertext and tag, sealed with the namespace and the
-- name as associated data. No API returns `value`; only the executor reads
-- it.
CREATE TABLE secrets (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      BLOB NOT NULL,
    -- Who set it (a user name, as the caller gave it).
    set_by     TEXT NOT NULL,
    -- Unix milliseconds.
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
) WITHOUT ROWID;

-- The store's facts about its key and its secrets:
-- `key_check`: a known text sealed with the key, to refuse a wrong key at
-- open rather than fail later; `generation`: counts every change to
-- `secrets` (and a rotation), so that another process on the same
-- database sees a change with one cheap read.
CREATE TABLE secret_meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- SECRET inputs sealed with the key (associated data: the execution's id).
-- A row written before this migration has `sealed` NULL and its values in
-- `inputs`: the store seals it at its first open with a key and empties
-- `inputs`.
ALTER TABLE execution_secrets ADD COLUMN sealed BLOB;
