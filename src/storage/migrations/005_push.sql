-- Push rules (the user's customisations on top of the server-default ruleset) and pushers.

CREATE TABLE push_rules (
  user_id  TEXT PRIMARY KEY,
  rules    JSONB NOT NULL
);

CREATE TABLE pushers (
  user_id              TEXT NOT NULL,
  access_token_id      BIGINT,
  kind                 TEXT NOT NULL,
  app_id               TEXT NOT NULL,
  pushkey              TEXT NOT NULL,
  app_display_name     TEXT NOT NULL,
  device_display_name  TEXT NOT NULL,
  profile_tag          TEXT,
  lang                 TEXT NOT NULL,
  data                 JSONB NOT NULL,
  device_id            TEXT,
  created_ts           BIGINT NOT NULL,
  last_stream_ordering BIGINT,
  failing_since        BIGINT,
  PRIMARY KEY (app_id, pushkey, user_id)
);
