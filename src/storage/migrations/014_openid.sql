-- OpenID tokens (spec: Client-Server API §11.x "OpenID"): handed to a third party (e.g. the
-- conference page), who checks them with /_matrix/federation/v1/openid/userinfo.
CREATE TABLE openid_tokens (
  token_hash  BYTEA PRIMARY KEY,
  user_id     TEXT NOT NULL,
  expires_ts  BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expiry_idx ON openid_tokens (expires_ts);
