-- Accounts, devices, access tokens, profiles, account data, user-interactive auth.

CREATE TABLE users (
  user_id        TEXT PRIMARY KEY,
  password_hash  TEXT,
  created_ts     BIGINT NOT NULL,
  is_admin       BOOLEAN NOT NULL DEFAULT false,
  is_guest       BOOLEAN NOT NULL DEFAULT false,
  user_type      TEXT,
  deactivated    BOOLEAN NOT NULL DEFAULT false,
  locked         BOOLEAN NOT NULL DEFAULT false,
  suspended      BOOLEAN NOT NULL DEFAULT false,
  shadow_banned  BOOLEAN NOT NULL DEFAULT false,
  appservice_id  TEXT,
  consent_version TEXT
);
-- Registration checks availability case-insensitively, as Synapse does.
CREATE UNIQUE INDEX users_lower_idx ON users (lower(user_id));

CREATE TABLE profiles (
  user_id      TEXT PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  displayname  TEXT,
  avatar_url   TEXT,
  -- extended profile fields (MSC4133 / spec v1.16 custom fields)
  fields       JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE devices (
  user_id               TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  device_id             TEXT NOT NULL,
  display_name          TEXT,
  created_ts            BIGINT NOT NULL,
  last_seen_ts          BIGINT,
  last_seen_ip          TEXT,
  last_seen_user_agent  TEXT,
  -- hidden devices (e.g. dehydrated ones) are not listed by GET /devices
  hidden                BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, device_id)
);

-- Only a SHA-256 of each token is stored: a database dump reveals no usable token.
CREATE TABLE refresh_tokens (
  id                  BIGSERIAL PRIMARY KEY,
  token_hash          BYTEA NOT NULL UNIQUE,
  user_id             TEXT NOT NULL,
  device_id           TEXT NOT NULL,
  expiry_ts           BIGINT,
  ultimate_session_expiry_ts BIGINT,
  -- set once the token has been exchanged; the replacement stays usable until first use
  next_token_id       BIGINT REFERENCES refresh_tokens (id) ON DELETE CASCADE,
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE TABLE access_tokens (
  id                BIGSERIAL PRIMARY KEY,
  token_hash        BYTEA NOT NULL UNIQUE,
  user_id           TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  device_id         TEXT,
  created_ts        BIGINT NOT NULL,
  valid_until_ms    BIGINT,
  refresh_token_id  BIGINT REFERENCES refresh_tokens (id) ON DELETE CASCADE,
  -- an admin acting as another user (Synapse's puppeting); null for normal logins
  puppets_user_id   TEXT,
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device_idx ON access_tokens (user_id, device_id);

CREATE SEQUENCE account_data_stream_seq;
CREATE TABLE account_data (
  user_id    TEXT NOT NULL,
  -- '' for global account data
  room_id    TEXT NOT NULL DEFAULT '',
  type       TEXT NOT NULL,
  content    JSONB NOT NULL,
  stream_id  BIGINT NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream_idx ON account_data (user_id, stream_id);

CREATE TABLE registration_tokens (
  token         TEXT PRIMARY KEY,
  uses_allowed  INT,
  pending       INT NOT NULL DEFAULT 0,
  completed     INT NOT NULL DEFAULT 0,
  expiry_time   BIGINT
);

-- User-interactive auth sessions (spec: Client-Server API §4.5 "User-Interactive Authentication API").
-- Kept in the database so that any process behind the load balancer can continue a session.
CREATE TABLE ui_auth_sessions (
  session_id     TEXT PRIMARY KEY,
  creation_ts    BIGINT NOT NULL,
  -- what the first request asked for; later stages must ask for the same operation
  uri            TEXT NOT NULL,
  method         TEXT NOT NULL,
  user_id        TEXT,
  clientdict     JSONB NOT NULL DEFAULT '{}',
  completed      JSONB NOT NULL DEFAULT '{}',
  -- e.g. the registration token a stage accepted
  data           JSONB NOT NULL DEFAULT '{}'
);

-- Nonces of Synapse's shared-secret admin registration; each usable once, for 60 s.
CREATE TABLE admin_register_nonces (
  nonce       TEXT PRIMARY KEY,
  created_ts  BIGINT NOT NULL
);
