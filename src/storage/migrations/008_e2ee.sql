-- End-to-end encryption (spec: Client-Server API §10.12 "End-to-End Encryption"): device keys,
-- one-time and fallback keys, cross-signing keys and signatures, server-side key backup,
-- dehydrated devices (MSC3814).

-- The device's signed identity keys, kept as uploaded (the signature covers their canonical form).
CREATE TABLE e2e_device_keys (
  user_id    TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  key_json   TEXT NOT NULL,
  ts         BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- One-time keys: a claim deletes the row it hands out, so no key is ever handed out twice.
CREATE TABLE e2e_one_time_keys (
  id         BIGSERIAL PRIMARY KEY,
  user_id    TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  algorithm  TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  key_json   TEXT NOT NULL,
  ts         BIGINT NOT NULL,
  UNIQUE (user_id, device_id, algorithm, key_id)
);

-- One fallback key per (device, algorithm); `used` once handed out by a claim.
CREATE TABLE e2e_fallback_keys (
  user_id    TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  algorithm  TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  key_json   TEXT NOT NULL,
  used       BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, device_id, algorithm)
);

-- The user's master, self-signing and user-signing keys, as uploaded.
CREATE TABLE e2e_cross_signing_keys (
  user_id     TEXT NOT NULL,
  key_type    TEXT NOT NULL,
  public_key  TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  ts          BIGINT NOT NULL,
  PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded with POST /keys/signatures/upload, merged into the signed key on query.
-- target_key_id is a device ID or the base64 public key of a cross-signing key.
CREATE TABLE e2e_signatures (
  target_user_id  TEXT NOT NULL,
  target_key_id   TEXT NOT NULL,
  signer_user_id  TEXT NOT NULL,
  signer_key_id   TEXT NOT NULL,
  signature       TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- A change that only the user's own devices need to hear about (their user-signing key signed
-- someone): peers are not told.
ALTER TABLE device_lists_changes ADD COLUMN self_only BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX device_lists_changes_user_idx ON device_lists_changes (user_id, stream_id);

-- Server-side key backup (spec: Client-Server API §10.12.x "Server-side key backups"). Versions
-- count up per user; a deleted version keeps its row so its number is never reused.
CREATE TABLE e2e_room_keys_versions (
  user_id    TEXT NOT NULL,
  version    BIGINT NOT NULL,
  algorithm  TEXT NOT NULL,
  auth_data  JSONB NOT NULL,
  etag       BIGINT NOT NULL DEFAULT 0,
  deleted    BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE e2e_room_keys (
  user_id              TEXT NOT NULL,
  version              BIGINT NOT NULL,
  room_id              TEXT NOT NULL,
  session_id           TEXT NOT NULL,
  first_message_index  BIGINT NOT NULL,
  forwarded_count      BIGINT NOT NULL,
  is_verified          BOOLEAN NOT NULL,
  session_data         JSONB NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);

-- MSC3814: at most one dehydrated device per user; the device itself is a row in devices.
CREATE TABLE dehydrated_devices (
  user_id      TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  device_data  JSONB NOT NULL
);
