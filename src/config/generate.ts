/** `veche generate-config`: a commented homeserver.yaml (homeserver.yaml.example is its output). */

export function generateConfig(serverName: string, options: { port?: number; publicBaseUrl?: string } = {}): string {
  const port = options.port ?? 8008;
  const baseUrl = options.publicBaseUrl ?? `http://${serverName === 'localhost' ? '127.0.0.1' : serverName}:${port}/`;
  return `# Veche homeserver configuration.
# Key names follow Synapse's homeserver.yaml where the two overlap, so an admin who knows
# Synapse knows this file. Unknown or mistyped keys stop the server with a message naming them.

# The domain in your users' IDs (@alice:${serverName}). It cannot be changed later.
server_name: "${serverName}"

# The URL clients use to reach this server (served in /.well-known/matrix/client).
public_baseurl: "${baseUrl}"

# Where the embedded database, the signing key, media and other state live by default.
data_directory: "./data"

listeners:
  - port: ${port}
    bind_addresses: ["127.0.0.1"]
    type: http
    # Set to true behind a reverse proxy that sends X-Forwarded-For.
    x_forwarded: false
    resources:
      - names: [client, federation]

# With no database section, Veche runs a private PostgreSQL inside data_directory.
# For production, point it at a PostgreSQL server (Synapse's psycopg2 arguments):
#database:
#  name: psycopg2
#  args:
#    host: 127.0.0.1
#    port: 5432
#    user: veche
#    password: secret
#    database: veche
#    cp_max: 10

# Open self-registration. Corporate servers usually leave it off and create accounts with
# \`veche register-user\` or the admin API.
enable_registration: false
enable_registration_without_verification: false
# Require a registration token (created with the admin API) to register.
registration_requires_token: false
# The secret behind /_synapse/admin/v1/register and \`veche register-user\`. When neither this
# nor registration_shared_secret_path is set, a secret is generated on first start into
# data_directory/registration_shared_secret.
#registration_shared_secret: "a long random string"
#registration_shared_secret_path: "./data/registration_shared_secret"
allow_guest_access: false

# The server's ed25519 signing key, created on first start (Synapse's file format).
signing_key_path: "./data/${serverName}.signing.key"

# Uploaded files, named by content hash.
media_store_path: "./data/media_store"
max_upload_size: "50M"
# Media uploaded while this is on is served only by the authenticated download routes (spec v1.11).
enable_authenticated_media: true
# Veche: bytes of media each user may keep (no limit when unset).
#media_storage_quota_per_user: "10G"
# URL previews are off by default; when on, private, loopback and link-local addresses are refused.
url_preview_enabled: false

# The built-in web client at / (open http://127.0.0.1:8008/ and sign in).
web_client: true

# Presence ("online", "away", status messages). false turns it off.
presence:
  enabled: true

# The user directory: on a corporate server everyone finds everyone. false limits searches to
# users who share a room with the searcher.
user_directory:
  search_all_users: true

# Scheduled messages (MSC4140 delayed events): the longest delay allowed; unset turns them off.
max_event_delay_duration: "30d"

# Room version of new rooms.
default_room_version: "11"

# Rate limits (per_second refill, burst_count bucket size), as in Synapse.
rc_message:
  per_second: 0.2
  burst_count: 10
rc_registration:
  per_second: 0.17
  burst_count: 3
rc_login:
  address:
    per_second: 0.003
    burst_count: 5
  account:
    per_second: 0.003
    burst_count: 5
  failed_attempts:
    per_second: 0.17
    burst_count: 3

log_level: info
`;
}
