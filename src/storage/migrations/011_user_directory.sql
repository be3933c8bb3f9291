-- User directory search: case-insensitive prefix/infix matches on user IDs and display names.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX profiles_displayname_trgm_idx ON profiles USING gin (lower(displayname) gin_trgm_ops);
CREATE INDEX users_user_id_trgm_idx ON users USING gin (lower(user_id) gin_trgm_ops);
