"""The server's relational schema (SQLAlchemy Core tables); migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(300), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(20), nullable=False),
    PrimaryKeyConstraint("user_id", "role"),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("device_name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

expeditions = Table(
    "expeditions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("title", String(500), nullable=False),
    Column("year", Integer, nullable=False),
    Column("find_number_format", String(100), nullable=False),
    Column("next_find_number", BigInteger, nullable=False, default=1),
    Column("accuracy_threshold_m", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("leader", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint("expedition_id", "user_id"),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("name", String(500), nullable=False),
    Column("boundary", Text, nullable=False),
    UniqueConstraint("expedition_id", "code"),
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(128), primary_key=True),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
)

# The one row whose lock orders writers: sequence numbers are handed out under it, so a
# change with a lower number can never commit after a reader has seen a higher one.
change_counter = Table(
    "change_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("type", String(10), nullable=False),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("survey_uuid", String(36)),
    Column("find_number", String(64)),
    Column("server_rev", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("status", String(20)),
    Column("register_number", String(64)),
    Column("merged_into", String(36)),
    Column("flags", Text, nullable=False),
    Column("open_conflicts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # a photo record's sha256, so that reading a photo asks the index which expeditions hold it
    Column("photo_sha256", String(64)),
    Index(None, "expedition_id", "seq"),
    Index(None, "expedition_id", "find_number"),
    Index(None, "photo_sha256"),
)

revisions = Table(
    "revisions",
    metadata,
    Column("uuid", String(36), ForeignKey("records.uuid"), nullable=False),
    Column("server_rev", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("origin", String(10), nullable=False),  # device | museum
    Column("device_id", String(128)),
    Column("device_rev", Integer),
    Column("base_rev", Integer),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("uuid", "server_rev"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), ForeignKey("records.uuid"), nullable=False, index=True),
    Column("server_rev", Integer, nullable=False),
    Column("base_rev", Integer, nullable=False),
    Column("fields", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("device_id", String(128)),
    Column("device_rev", Integer),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("resolution", String(20)),
)

push_batches = Table(
    "push_batches",
    metadata,
    Column("batch_id", String(128), primary_key=True),
    Column("device_id", String(128), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("response", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

number_blocks = Table(
    "number_blocks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("device_id", String(128), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("first_number", BigInteger, nullable=False),
    Column("last_number", BigInteger, nullable=False),
    Column("reserved_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("action", String(60), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Column("reason", Text),
)


# A tus upload in progress or finished (DESIGN §4). The bytes wait in a staging file named by
# the id; the row is the truth about how many of them count, so any server process can go on.
photo_uploads = Table(
    "photo_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), nullable=False),  # declared in Upload-Metadata
    Column("filename", String(255)),
    Column("upload_metadata", Text),  # the Upload-Metadata header as sent, for HEAD
    Column("upload_length", BigInteger, nullable=False),
    Column("upload_offset", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),  # receiving | stored
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(None, "sha256", "user_id"),
    Index(None, "user_id", "state"),  # what a person sent, for the storage quotas
)

# One row per stored photo file, however many finds, devices and uploads sent it.
photo_blobs = Table(
    "photo_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("bytes", BigInteger, nullable=False),
    Column("media_type", String(100), nullable=False),  # sniffed from the file's magic bytes
    Column("width", Integer),
    Column("height", Integer),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    Column("stored_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
)


# -- the accession register (DESIGN §6) --------------------------------------------------------
# Acts, entries and amendments are only ever inserted: the migration adds triggers that refuse
# an UPDATE or DELETE of them, because the register is a permanent record.

# Each fund's last receipt number; the row is locked while an act takes the next one.
register_funds = Table(
    "register_funds",
    metadata,
    Column("fund", String(8), primary_key=True),  # KP | NVF
    Column("last_receipt", Integer, nullable=False),
)

register_acts = Table(
    "register_acts",
    metadata,
    Column("fund", String(8), ForeignKey("register_funds.fund"), nullable=False),
    Column("act_number", Integer, nullable=False),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("received_by", String(200)),
    Column("handed_over_by", String(500)),
    Column("storage_location", String(500)),
    Column("item_count", Integer, nullable=False),
    PrimaryKeyConstraint("fund", "act_number"),
)

register_entries = Table(
    "register_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fund", String(8), nullable=False),
    Column("act_number", Integer, nullable=False),
    Column("item", Integer, nullable=False),
    Column("register_number", String(64), nullable=False, unique=True),  # Cyrillic: КП 12/3
    Column("find_uuid", String(36), ForeignKey("records.uuid"), nullable=False, unique=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    # the find as the books hold it at accession (JSON); later changes are amendments
    Column("accessioned_values", Text, nullable=False),
    Column("storage_location", String(500)),
    Column("received_by", String(200)),
    Column("accessioned_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["fund", "act_number"],
        ["register_acts.fund", "register_acts.act_number"],
        name="fk_register_entries_fund_register_acts",
    ),
    UniqueConstraint("fund", "act_number", "item"),
)

register_amendments = Table(
    "register_amendments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry_id", Integer, ForeignKey("register_entries.id"), nullable=False, index=True),
    Column("field", String(40), nullable=False),
    Column("old_value", Text, nullable=False),  # JSON
    Column("new_value", Text, nullable=False),  # JSON
    Column("reason", Text, nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("find_server_rev", Integer),  # the find's revision it made, for find fields
)


# What duplicate detection compares of each find (DESIGN §5), typed and narrow so a whole
# expedition is read without parsing every find's JSON. Derived from the find's data on every
# push and museum revision; records.data stays the only source.
find_traits = Table(
    "find_traits",
    metadata,
    Column("uuid", String(36), ForeignKey("records.uuid"), primary_key=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("find_number", String(64), nullable=False),
    Column("site_code", String(32)),
    Column("trench", String(100)),
    Column("context", String(100)),
    Column("material", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("horizontal_accuracy_m", Float),
    Column("found_on", String(10), nullable=False),
    Column("object_name", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("weight_g", Float),
    Column("length_mm", Float),
    Column("width_mm", Float),
    Column("height_mm", Float),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    # the find's keys in the accuracy-banded grid (field_server.domain.find_grid): its cell and
    # day whatever the context, and the same with its context
    Column("cell", BigInteger, nullable=False),
    Column("context_cell", BigInteger, nullable=False),
    # numbers for (site, material, kind), (trench, context) and the day found, so a whole
    # expedition is compared from numbers alone (find_grid's group_code, context_code, day_number)
    Column("group_code", BigInteger, nullable=False),
    Column("context_code", BigInteger, nullable=False),
    Column("day", Integer, nullable=False),
    Index(None, "expedition_id", "cell"),
    Index(None, "expedition_id", "context_cell"),
)

# The find sheet: what every export writes of a find, one typed column per attribute of its
# wire data (field_server.domain.export_layers.SHEET_COLUMNS) and its WGS 84 position, so an
# export of 100,000 finds reads columns instead of parsing 100,000 JSON documents. Written beside
# the record on every push and museum revision; records.data stays the only source.
find_sheets = Table(
    "find_sheets",
    metadata,
    Column("uuid", String(36), ForeignKey("records.uuid"), primary_key=True),
    Column("find_number", Text),
    Column("survey_uuid", Text),
    Column("site_code", Text),
    Column("trench", Text),
    Column("context", Text),
    Column("kind", Text),
    Column("material", Text),
    Column("object_name", Text),
    Column("description", Text),
    Column("quantity", BigInteger),
    Column("weight_g", Float),
    Column("length_mm", Float),
    Column("width_mm", Float),
    Column("height_mm", Float),
    Column("condition", Text),
    Column("elevation_m", Float),
    Column("depth_m", Float),
    Column("horizontal_accuracy_m", Float),
    Column("vertical_accuracy_m", Float),
    Column("method", Text),
    Column("found_on", Text),
    Column("recorded_at", Text),
    Column("recorded_by", Text),
    Column("photos", Text),  # the photos' SHA-256, space-separated
    Column("notes", Text),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    # find_number to notes as one JSON object, as GeoJSON writes them (export_layers.sheet_row)
    Column("object_json", Text, nullable=False),
)

# Which photo a find names, so a shared photo is found by an index, not by reading every find.
find_photos = Table(
    "find_photos",
    metadata,
    Column("uuid", String(36), ForeignKey("records.uuid"), nullable=False),
    Column("sha256", String(64), nullable=False),
    PrimaryKeyConstraint("uuid", "sha256"),
    Index(None, "sha256"),
)

# Finds that may be one object, waiting for a reviewer (DESIGN §5). Either a pair found by
# position or a shared photo, stored in one order (find_a < find_b) so a pair has one row
# whatever found it; or every find of an expedition carrying one find number (find_number set,
# find_a and find_b empty), its finds in duplicate_members: one row however many finds share
# the number, so the queue grows with the numbers typed twice, not with the square of their uses.
duplicate_candidates = Table(
    "duplicate_candidates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("find_a", String(36), ForeignKey("records.uuid")),
    Column("find_b", String(36), ForeignKey("records.uuid")),
    Column("find_number", String(64)),
    Column("score", Float, nullable=False),
    Column("rules", Text, nullable=False),  # JSON list of the rules that matched
    Column("distance_m", Float),
    Column("state", String(10), nullable=False),  # open | merged | dismissed | withdrawn
    Column("kept_uuid", String(36)),
    Column("reason", Text),
    Column("decided_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("decided_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("find_a", "find_b"),
    CheckConstraint(
        "(find_number IS NULL) = (find_a IS NOT NULL AND find_b IS NOT NULL)",
        name="ck_duplicate_candidates_pair_or_number",
    ),
    Index(None, "expedition_id", "state"),
    Index(None, "find_b"),
    Index(None, "expedition_id", "find_number"),
    # a number has at most one open group, which later finds of that number join
    Index(
        "uq_duplicate_candidates_open_number",
        "expedition_id",
        "find_number",
        unique=True,
        sqlite_where=text("state = 'open' AND find_number IS NOT NULL"),
        postgresql_where=text("state = 'open' AND find_number IS NOT NULL"),
    ),
)

# The finds of a number group. A find whose number changed, or that was merged through another
# candidate, while the group was open has left it (left_at); a find merged through the group
# itself stays, and find_aliases names the group.
duplicate_members = Table(
    "duplicate_members",
    metadata,
    Column("candidate_id", Integer, ForeignKey("duplicate_candidates.id"), primary_key=True),
    Column("find_uuid", String(36), ForeignKey("records.uuid"), primary_key=True),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
    Index(None, "find_uuid"),
)

# A merged find's uuid, kept forever: a device that knows only it still reaches the kept find.
find_aliases = Table(
    "find_aliases",
    metadata,
    Column("alias_uuid", String(36), ForeignKey("records.uuid"), primary_key=True),
    Column("kept_uuid", String(36), ForeignKey("records.uuid"), nullable=False),
    Column("candidate_id", Integer, ForeignKey("duplicate_candidates.id")),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "kept_uuid"),
)


# -- phones with ODK Collect (DESIGN §9) --------------------------------------------------------

# A key lets one member's phone talk OpenRosa for one expedition without a password (Collect
# would ask for one on a 401). Only the key's SHA-256 is kept, like an access token's.
collect_keys = Table(
    "collect_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("device_name", String(200), nullable=False),
    Column("survey_uuid", String(36), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Index(None, "expedition_id"),
)

# Every submission a phone sent, as received: the XML is the only copy of what the phone said,
# so it is kept whether or not it made a find (a reviewer corrects one that could not).
collect_submissions = Table(
    "collect_submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("expedition_id", Integer, ForeignKey("expeditions.id"), nullable=False),
    # a phone's key, or for a submission the camp laptop relayed, the laptop's device id: the
    # laptop issues its phones' keys itself, so the server knows none of them (exactly one is set)
    Column("key_id", Integer, ForeignKey("collect_keys.id")),
    Column("relayed_by_device", String(128)),
    # the member whose phone sent it: the key's member, or for a relay the member who pushed it
    Column("recorded_by_user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    # the survey a find made of it goes into: the key's, or the one the laptop's record names
    Column("survey_uuid", String(36), nullable=False),
    Column("instance_id", String(36), nullable=False),
    Column("deprecated_id", String(36)),
    Column("form_version", String(64)),
    Column("xml", Text, nullable=False),
    Column("xml_sha256", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("find_uuid", String(36)),
    # the find's server revision this submission's content last made: the base of its edits
    Column("find_rev", Integer),
    Column("problems", Text, nullable=False),  # JSON [{field, message}]
    Column("attachments_named", Text, nullable=False),  # JSON [file name…]
    Column("attachments_received", Text, nullable=False),  # JSON {file name: sha256}
    Column("status", String(20), nullable=False),  # filed | needs_review
    UniqueConstraint("expedition_id", "instance_id"),
    CheckConstraint(
        "(key_id IS NULL) <> (relayed_by_device IS NULL)",
        name="ck_collect_submissions_one_sender",
    ),
    Index(None, "expedition_id", "status", "id"),
)


# -- signing in ---------------------------------------------------------------------------------

# Each refused password or phone key of the last 15 minutes, counted by every server process
# alike to slow down guessing (domain/sign_in_throttle.py); older rows are deleted as new ones
# come, so the table holds minutes of attempts, not years.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(150), nullable=False),  # as typed, lowercased; "" for a key
    Column("address", String(64), nullable=False),
    Column("kind", String(10), nullable=False),  # password | phone_key
    Column("at", DateTime(timezone=True), nullable=False),
    Index(None, "account", "kind", "at"),
    Index(None, "address", "kind", "at"),
    Index(None, "at"),
)

# A review UI session: its cookie carries only the random token, kept here as its SHA-256, so
# that signing out, signing out everywhere, a new password or deactivation end it for good.
review_sessions = Table(
    "review_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", String(20)),
    Index(None, "user_id"),
)
