-- The media repository (spec: Client-Server API "Content repository"). Files live on disk under
-- media_store_path, named by the SHA-256 of their bytes; these rows say what each media ID is,
-- who uploaded it and who may read it.

CREATE TABLE local_media (
  media_id            TEXT PRIMARY KEY,
  user_id             TEXT NOT NULL,
  created_ts          BIGINT NOT NULL,
  -- Set once the bytes are stored; NULL while an asynchronous upload (POST /create) is pending.
  uploaded_ts         BIGINT,
  -- A pending media ID may be uploaded to until then (spec: unused_expires_at).
  unused_expires_at   BIGINT,
  upload_name         TEXT,
  content_type        TEXT,
  content_length      BIGINT,
  sha256              TEXT,
  -- Uploaded while authenticated media was enforced: never served by the legacy unauthenticated
  -- /_matrix/media/v3/download and /thumbnail (Synapse's local_media_repository.authenticated).
  authenticated       BOOLEAN NOT NULL DEFAULT TRUE,
  -- When set, the access hook decides who may read it (e.g. only the members of this room).
  restricted_to_room  TEXT
);

CREATE INDEX local_media_user ON local_media (user_id);
CREATE INDEX local_media_pending ON local_media (user_id, unused_expires_at) WHERE uploaded_ts IS NULL;

CREATE TABLE local_media_thumbnails (
  media_id        TEXT NOT NULL REFERENCES local_media (media_id) ON DELETE CASCADE,
  width           INT NOT NULL,
  height          INT NOT NULL,
  method          TEXT NOT NULL,
  animated        BOOLEAN NOT NULL,
  content_type    TEXT NOT NULL,
  content_length  BIGINT NOT NULL,
  sha256          TEXT NOT NULL,
  -- The size of the image actually produced (may be smaller than asked for: never enlarged).
  actual_width    INT NOT NULL,
  actual_height   INT NOT NULL,
  created_ts      BIGINT NOT NULL,
  PRIMARY KEY (media_id, width, height, method, animated)
);
