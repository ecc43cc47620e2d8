/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-store"

#include "devbg-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-names.h"
#include "devbg-records.h"
#include "devbg-registration-set.h"

struct _DevbgStore {
  GObject  parent;
  sqlite3 *db;
  char    *path;
  int      lock_fd;  /* the state directory's lock, held while open; -1 none */
  GPtrArray *salvaged; /* instances read from a database moved aside; NULL when none */
  /* Group commit: the open transaction that concurrent registrations share,
   * its commit (an idle at low priority: after every call already queued),
   * and the GTasks waiting for it. */
  gboolean   group_open;
  guint      group_commit_id;
  GPtrArray *group_waiters;
  GHashTable *statements; /* SQL text -> GPtrArray of its prepared statements */
  /* "uid:app_id" -> its DevbgRegistrationSet: read from the table the
   * first time the owner is asked about, then kept up to date by every
   * insert and delete (Register counts, Request looks up and
   * ListRegistrations lists without reading thousands of rows). */
  GHashTable *registration_sets;
};

G_DEFINE_TYPE (DevbgStore, devbg_store, G_TYPE_OBJECT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* Statements are prepared once per connection and kept: preparing one
 * costs more than most of the queries devbgd runs (on the request path,
 * and per Register). prepare() hands out a statement no caller is using
 * (a second one of the same SQL only while the first is in use), and a
 * StoreStmt going out of scope is reset, not finalized. The store is used
 * from the main thread only. */
typedef sqlite3_stmt StoreStmt;
static GHashTable *statements_in_use;

static void
store_stmt_release (StoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  g_hash_table_remove (statements_in_use, stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreStmt, store_stmt_release)

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

/* Before the connection closes: it closes only once they are finalized. */
static void
clear_statements (DevbgStore *store)
{
  g_hash_table_remove_all (store->statements);
}

/* Migration N brings the schema from version N to N + 1. Append only. */
static const char *const migrations[] = {
  /* 0 -> 1 */
  "CREATE TABLE registrations ("
  "  task_id     TEXT PRIMARY KEY NOT NULL,"
  "  app_id      TEXT NOT NULL,"
  "  name        TEXT NOT NULL,"
  "  entry_point TEXT NOT NULL,"
  "  trigger     TEXT NOT NULL CHECK (trigger IN ('use', 'servicing')),"
  "  created_us  INTEGER NOT NULL"
  ");"
  "CREATE INDEX registrations_by_app ON registrations (app_id, created_us);",
  /* 1 -> 2: the task runtime */
  "CREATE TABLE instances ("
  "  instance_id TEXT PRIMARY KEY NOT NULL,"
  "  task_id     TEXT NOT NULL,"
  "  app_id      TEXT NOT NULL,"
  "  name        TEXT NOT NULL,"
  "  entry_point TEXT NOT NULL,"
  "  trigger     TEXT NOT NULL,"
  "  device_id   TEXT NOT NULL,"
  "  uid         INTEGER NOT NULL,"
  "  pid         INTEGER NOT NULL,"
  "  pid_start   INTEGER NOT NULL,"
  "  cgroup      TEXT,"
  "  started_us  INTEGER NOT NULL"
  ");"
  "CREATE TABLE history ("
  "  instance_id   TEXT PRIMARY KEY NOT NULL,"
  "  task_id       TEXT NOT NULL,"
  "  app_id        TEXT NOT NULL,"
  "  name          TEXT NOT NULL,"
  "  entry_point   TEXT NOT NULL,"
  "  trigger       TEXT NOT NULL,"
  "  device_id     TEXT NOT NULL,"
  "  uid           INTEGER NOT NULL,"
  "  started_us    INTEGER NOT NULL,"
  "  finished_us   INTEGER NOT NULL,"
  "  success       INTEGER NOT NULL,"
  "  error         TEXT NOT NULL,"
  "  cancel_reason TEXT NOT NULL"
  ");"
  "CREATE INDEX history_by_time ON history (finished_us);"
  "CREATE TABLE events ("
  "  event_id      TEXT PRIMARY KEY NOT NULL,"
  "  app_id        TEXT NOT NULL,"
  "  task_id       TEXT NOT NULL,"
  "  instance_id   TEXT NOT NULL,"
  "  success       INTEGER NOT NULL,"
  "  error         TEXT NOT NULL,"
  "  cancel_reason TEXT NOT NULL,"
  "  finished_us   INTEGER NOT NULL"
  ");"
  "CREATE INDEX events_by_app ON events (app_id, finished_us);",
  /* 2 -> 3: everything an app owns belongs to (uid, app ID). A registration
   * takes the user of its latest instance; one that never ran has no known
   * owner (uid -1), which no caller can be, so nobody inherits it. */
  "ALTER TABLE registrations ADD COLUMN uid INTEGER NOT NULL DEFAULT -1;"
  "UPDATE registrations SET uid = coalesce((SELECT h.uid FROM history h "
  "  WHERE h.task_id = registrations.task_id ORDER BY h.finished_us DESC LIMIT 1), -1);"
  "DROP INDEX registrations_by_app;"
  "CREATE INDEX registrations_by_owner ON registrations (uid, app_id);"
  "ALTER TABLE events ADD COLUMN uid INTEGER NOT NULL DEFAULT -1;"
  "UPDATE events SET uid = coalesce((SELECT h.uid FROM history h "
  "  WHERE h.instance_id = events.instance_id), -1);"
  "DROP INDEX events_by_app;"
  "CREATE INDEX events_by_owner ON events (uid, app_id);"
  "CREATE INDEX history_by_owner ON history (uid, app_id);",
  /* 3 -> 4: use consent, stored per (user, app, device model) until revoked
   * (servicing consent is never stored). */
  "CREATE TABLE consent ("
  "  uid        INTEGER NOT NULL,"
  "  app_id     TEXT NOT NULL,"
  "  model_id   TEXT NOT NULL,"
  "  created_us INTEGER NOT NULL,"
  "  PRIMARY KEY (uid, app_id, model_id)"
  ");",
  /* 4 -> 5: a finished instance and a pending event are stored as the
   * packed record the lists serve (lib/devbg-records.h), written once and
   * read many times: a page is its rows' records copied whole, where
   * decoding 13 columns and printing their numbers took three quarters of
   * a page's time. Each table is clustered by owner (uid, app ID, seq), so
   * an app's page is one range of neighbouring rows, not an index walk
   * with a table lookup per row. seq is the list position the old rowid
   * was, kept. Only what SQL selects, orders and prunes by is a column. */
  "CREATE TABLE history_records ("
  "  uid         INTEGER NOT NULL,"
  "  app_id      TEXT NOT NULL,"
  "  seq         INTEGER NOT NULL,"
  "  instance_id TEXT NOT NULL UNIQUE,"
  "  finished_us INTEGER NOT NULL,"
  "  record      BLOB NOT NULL,"
  "  PRIMARY KEY (uid, app_id, seq)"
  ") WITHOUT ROWID;"
  "INSERT INTO history_records (uid, app_id, seq, instance_id, finished_us, record) "
  "  SELECT uid, app_id, rowid, instance_id, finished_us, CAST("
  "    instance_id || char(0) || task_id || char(0) || app_id || char(0) || name || char(0) ||"
  "    entry_point || char(0) || trigger || char(0) || device_id || char(0) ||"
  "    uid || char(0) || started_us || char(0) || finished_us || char(0) ||"
  "    CASE WHEN success THEN '1' ELSE '0' END || char(0) ||"
  "    error || char(0) || cancel_reason || char(0) AS BLOB) FROM history;"
  "DROP TABLE history;"
  "ALTER TABLE history_records RENAME TO history;"
  "CREATE INDEX history_by_seq ON history (seq);"
  "CREATE INDEX history_by_user ON history (uid, seq);"
  "CREATE INDEX history_by_time ON history (finished_us);"
  "CREATE TABLE event_records ("
  "  uid      INTEGER NOT NULL,"
  "  app_id   TEXT NOT NULL,"
  "  seq      INTEGER NOT NULL,"
  "  event_id TEXT NOT NULL UNIQUE,"
  "  record   BLOB NOT NULL,"
  "  PRIMARY KEY (uid, app_id, seq)"
  ") WITHOUT ROWID;"
  "INSERT INTO event_records (uid, app_id, seq, event_id, record) "
  "  SELECT uid, app_id, rowid, event_id, CAST("
  "    event_id || char(0) || task_id || char(0) || instance_id || char(0) ||"
  "    CASE WHEN success THEN '1' ELSE '0' END || char(0) ||"
  "    error || char(0) || cancel_reason || char(0) || finished_us || char(0) AS BLOB) "
  "  FROM events;"
  "DROP TABLE events;"
  "ALTER TABLE event_records RENAME TO events;"
  "CREATE INDEX events_by_seq ON events (seq);",
  /* 5 -> 6: a user's and an app's stored consent, each a plain range in
   * list order (rowid, an index's last column): ListPermissions scanned
   * every user's consent for each page (300,000 rows: 20 ms a call, for a
   * caller with none). */
  "CREATE INDEX IF NOT EXISTS consent_by_user ON consent (uid);"
  "CREATE INDEX IF NOT EXISTS consent_by_owner ON consent (uid, app_id);",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == DEVBG_STORE_SCHEMA_VERSION);

void
devbg_registration_record_free (DevbgRegistrationRecord *reg)
{
  if (reg == NULL)
    return;
  g_free (reg->task_id);
  g_free (reg->app_id);
  g_free (reg->name);
  g_free (reg->entry_point);
  g_free (reg);
}

static gboolean
sql_fail (DevbgStore *store, GError **error, const char *what)
{
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "%s: %s: %s", store->path, what,
               sqlite3_errmsg (store->db));
  return FALSE;
}

static gboolean
exec (DevbgStore *store, const char *sql, GError **error)
{
  char *msg = NULL;

  if (sqlite3_exec (store->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "%s: %s", store->path,
                   msg != NULL ? msg : "unknown error");
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

/* A COMMIT that failed (disk full, I/O error) can leave its transaction
 * open, and then every later BEGIN fails: roll it back. */
static gboolean
commit (DevbgStore *store, GError **error)
{
  if (exec (store, "COMMIT;", error))
    return TRUE;
  /* Rows kept from it may be gone: read again when next asked. */
  g_hash_table_remove_all (store->registration_sets);
  if (!sqlite3_get_autocommit (store->db))
    exec (store, "ROLLBACK;", NULL);
  return FALSE;
}

/* ---- group commit ----
 *
 * Registrations that arrive together share one transaction and so one
 * fsync: the first opens it, each adds its row, and an idle at low priority
 * (which runs once every call already queued in the main loop has been
 * handled) commits it; only then is each caller told its row is durable.
 * Every other write commits the open group first, so it never joins a
 * transaction it did not start, and reads on this connection see the
 * group's rows, which is what keeps the per-owner limits exact. */

static void
group_finish (DevbgStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&store->group_waiters);
  gboolean ok;

  g_clear_handle_id (&store->group_commit_id, g_source_remove);
  store->group_open = FALSE;
  ok = commit (store, &error);
  g_debug ("store: group commit of %u registrations", waiters != NULL ? waiters->len : 0);
  for (guint i = 0; waiters != NULL && i < waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (waiters, i);
      if (ok)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, g_error_copy (error));
    }
  if (!ok)
    g_warning ("%s", error->message);
}

static gboolean
on_group_commit (gpointer user_data)
{
  DevbgStore *store = user_data;

  store->group_commit_id = 0;
  group_finish (store);
  return G_SOURCE_REMOVE;
}

/* Before a write that is not part of the group. */
static void
group_flush (DevbgStore *store)
{
  if (store->group_open)
    group_finish (store);
}

static gboolean
group_join (DevbgStore *store, GError **error)
{
  if (store->group_open)
    return TRUE;
  if (!exec (store, "BEGIN IMMEDIATE;", error))
    return FALSE;
  store->group_open = TRUE;
  store->group_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  store->group_commit_id = g_idle_add_full (G_PRIORITY_LOW, on_group_commit, store, NULL);
  return TRUE;
}

static sqlite3_stmt *prepare (DevbgStore *store, const char *sql, GError **error);

/* The first statement of a write that is not part of the group. */
static sqlite3_stmt *
prepare_write (DevbgStore *store, const char *sql, GError **error)
{
  group_flush (store);
  return prepare (store, sql, error);
}

static sqlite3_stmt *
prepare (DevbgStore *store, const char *sql, GError **error)
{
  GPtrArray *kept = g_hash_table_lookup (store->statements, sql);
  sqlite3_stmt *stmt = NULL;

  if (statements_in_use == NULL)
    statements_in_use = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; kept != NULL && i < kept->len; i++)
    if (g_hash_table_add (statements_in_use, g_ptr_array_index (kept, i)))
      return g_ptr_array_index (kept, i);
  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      sql_fail (store, error, "cannot prepare a statement");
      return NULL;
    }
  if (kept == NULL)
    {
      kept = g_ptr_array_new_with_free_func (finalize_statement);
      g_hash_table_insert (store->statements, g_strdup (sql), kept);
    }
  g_ptr_array_add (kept, stmt);
  g_hash_table_add (statements_in_use, stmt);
  return stmt;
}

guint64
devbg_store_get_generation (DevbgStore *store)
{
  /* Every row inserted, changed or deleted on this connection, which is
   * the database's only writer for as long as the store is open. */
  return (guint64) sqlite3_total_changes64 (store->db);
}

guint
devbg_store_get_schema_version (DevbgStore *store)
{
  g_autoptr(StoreStmt) stmt = prepare (store, "PRAGMA user_version", NULL);

  if (stmt == NULL || sqlite3_step (stmt) != SQLITE_ROW)
    return 0;
  return (guint) sqlite3_column_int (stmt, 0);
}

static gboolean
migrate (DevbgStore *store, GError **error)
{
  guint version = devbg_store_get_schema_version (store);

  if (version > DEVBG_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE,
                   "%s: schema version %u is newer than this devbgd's (%u); "
                   "refusing to touch it", store->path, version, DEVBG_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  for (; version < DEVBG_STORE_SCHEMA_VERSION; version++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %u;", version + 1);

      /* Each step in one transaction: a crash mid-migration leaves the old
       * version intact. */
      if (!exec (store, "BEGIN IMMEDIATE;", error))
        return FALSE;
      if (!exec (store, migrations[version], error) || !exec (store, bump, error))
        {
          exec (store, "ROLLBACK;", NULL);
          return FALSE;
        }
      if (!commit (store, error))
        return FALSE;
      g_debug ("store: migrated schema to version %u", version + 1);
    }
  return TRUE;
}

/* SQLite's words for "this file is damaged or is no database": only these
 * move the database aside. A busy, full, unreadable or newer database is
 * refused as it is, untouched. */
static gboolean
is_corruption (int rc)
{
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/* PRAGMA quick_check: some 6 ms for 10,000 registrations (1.7 MB), cheap
 * enough for every start. It finds damage the first queries would hit only
 * later, at a worse moment. */
static gboolean
quick_check (DevbgStore *store, gboolean *corrupt, GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare (store, "PRAGMA quick_check", error);
  const char *verdict;
  int rc;

  if (stmt == NULL)
    {
      *corrupt = is_corruption (sqlite3_errcode (store->db));
      return FALSE;
    }
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      *corrupt = is_corruption (rc) || is_corruption (sqlite3_errcode (store->db));
      return sql_fail (store, error, "cannot check the database");
    }
  verdict = (const char *) sqlite3_column_text (stmt, 0);
  if (g_strcmp0 (verdict, "ok") != 0)
    {
      /* The first problem it names, on one log line. */
      g_autofree char *line = g_strdelimit (g_strdup (verdict ? verdict : "(no verdict)"), "\n", ' ');
      *corrupt = TRUE;
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "%s: the integrity check failed: %s",
                   store->path, line);
      return FALSE;
    }
  return TRUE;
}

/* Opens store->path and brings it up to date. On failure the handle is
 * closed, and *corrupt says whether SQLite found the file damaged. */
static gboolean
open_database (DevbgStore *store, gboolean *corrupt, GError **error)
{
  *corrupt = FALSE;
  if (sqlite3_open_v2 (store->path, &store->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      sql_fail (store, error, "cannot open the database");
      goto fail;
    }
  sqlite3_busy_timeout (store->db, 5000);
  /* WAL with synchronous=FULL: every commit is on disk before it returns.
   * The log is checkpointed every 256 pages (1 MiB) and cut back to 1 MiB,
   * so a burst of writes does not leave it at its high-water mark.
   * The page cache is 8 MiB (SQLite's default is 2 MiB): a list of 10,000
   * History entries or events (about 3 MB of rows) is then read from
   * memory, not a pread() a page each time it is listed; it only fills
   * as far as the database is read.
   * The first read of the file is here: a file that is no database fails. */
  if (!exec (store, "PRAGMA journal_mode = WAL;"
                    "PRAGMA wal_autocheckpoint = 256;"
                    "PRAGMA journal_size_limit = 1048576;"
                    "PRAGMA synchronous = FULL;"
                    "PRAGMA foreign_keys = ON;"
                    "PRAGMA cache_size = -8192;", error))
    {
      *corrupt = is_corruption (sqlite3_errcode (store->db));
      goto fail;
    }
  if (!quick_check (store, corrupt, error))
    goto fail;
  if (!migrate (store, error))
    {
      *corrupt = is_corruption (sqlite3_errcode (store->db));
      goto fail;
    }
  return TRUE;

fail:
  /* Closing the last connection would checkpoint the log into the file
   * and delete it: a damaged database is to be kept as it was found. */
  if (store->db != NULL)
    sqlite3_db_config (store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  clear_statements (store);
  g_clear_pointer (&store->db, sqlite3_close);
  return FALSE;
}

/* devbg.db.corrupt-20261128T221502Z, or with -2, -3... when that is taken. */
static char *
corrupt_name (const char *path)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  char *name = g_strdup_printf ("%s.corrupt-%s", path, stamp);

  for (guint n = 2; g_file_test (name, G_FILE_TEST_EXISTS); n++)
    {
      g_free (name);
      name = g_strdup_printf ("%s.corrupt-%s-%u", path, stamp, n);
    }
  return name;
}

/* Renames the database and its -wal and -shm together, so that the kept
 * copy opens as it was and no stale log is replayed into the fresh one.
 * The log goes first: a crash halfway never leaves it beside a new file. */
static char *
move_aside (const char *path, GError **error)
{
  g_autofree char *kept = corrupt_name (path);
  const char *const suffixes[] = { "-wal", "-shm", "" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *from = g_strconcat (path, suffixes[i], NULL);
      g_autofree char *to = g_strconcat (kept, suffixes[i], NULL);

      if (g_rename (from, to) != 0 && (errno != ENOENT || *suffixes[i] == '\0'))
        {
          int err = errno;
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "cannot move %s aside to %s: %s",
                       from, to, g_strerror (err));
          return NULL;
        }
    }
  return g_steal_pointer (&kept);
}

/* What can still be read of the instances a crashed devbgd left running:
 * best effort, from the kept copy, read-only; NULL when nothing could be
 * read. Their cgroups are found without it; this finds the process-group
 * ones. */
static GPtrArray *
salvage_instances (const char *kept)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_instance_record_free);
  g_autoptr(sqlite3_stmt) stmt = NULL;
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (kept, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
      sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "SELECT instance_id, app_id, pid, pid_start, cgroup FROM instances",
                          -1, &stmt, NULL) == SQLITE_OK)
    while (sqlite3_step (stmt) == SQLITE_ROW)
      {
        DevbgInstanceRecord *rec = g_new0 (DevbgInstanceRecord, 1);
        rec->instance_id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
        rec->app_id = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
        rec->pid = (gint32) sqlite3_column_int64 (stmt, 2);
        rec->pid_start = (guint64) sqlite3_column_int64 (stmt, 3);
        rec->cgroup = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
        g_ptr_array_add (out, rec);
      }
  g_clear_pointer (&stmt, sqlite3_finalize);
  sqlite3_close (db);
  return out->len > 0 ? g_steal_pointer (&out) : NULL;
}

/* One devbgd per state directory: a second one would end the first's
 * running tasks as left by a crash (their cgroups and pids are in the
 * database) before it found the bus name taken. The lock goes with the
 * process, however it ends. */
static gboolean
lock_state_dir (DevbgStore *store, const char *state_dir, GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, "devbgd.lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    {
      int err = errno;
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "cannot open %s: %s", path,
                   g_strerror (err));
      return FALSE;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int err = errno;
      close (fd);
      if (err == EWOULDBLOCK)
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE,
                     "another devbgd uses the state directory %s (it holds %s); one devbgd "
                     "per state directory", state_dir, path);
      else
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "cannot lock %s: %s", path,
                     g_strerror (err));
      return FALSE;
    }
  store->lock_fd = fd;
  return TRUE;
}

DevbgStore *
devbg_store_open (const char *state_dir, GError **error)
{
  g_autoptr(DevbgStore) store = g_object_new (DEVBG_TYPE_STORE, NULL);
  g_autoptr(GError) damage = NULL;
  g_autofree char *kept = NULL;
  gboolean corrupt;

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int err = errno;
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "cannot create state directory %s: %s",
                   state_dir, g_strerror (err));
      return NULL;
    }
  if (!lock_state_dir (store, state_dir, error))
    return NULL;
  store->path = g_build_filename (state_dir, "devbg.db", NULL);
  if (open_database (store, &corrupt, &damage))
    return g_steal_pointer (&store);
  if (!corrupt)
    {
      g_propagate_error (error, g_steal_pointer (&damage));
      return NULL;
    }

  /* A damaged database would keep the service down for good; a fresh one
   * loses registrations, consent, pending events and history, but the
   * service runs, and the old file stays for whoever wants to look. */
  kept = move_aside (store->path, error);
  if (kept == NULL)
    {
      g_prefix_error (error, "%s; ", damage->message);
      return NULL;
    }
  g_critical ("%s: the database is corrupt (%s); moved it aside to %s and starting with an "
              "empty one: all registrations, stored consent, pending completion events and "
              "history are lost", store->path, damage->message, kept);
  store->salvaged = salvage_instances (kept);
  if (!open_database (store, &corrupt, error))
    return NULL;
  return g_steal_pointer (&store);
}

GPtrArray *
devbg_store_take_salvaged_instances (DevbgStore *store)
{
  return g_steal_pointer (&store->salvaged);
}

/* Binds @owner's app ID and uid at these parameter indexes; NULL for
 * "every owner", where the statement allows it. */
static void
bind_owner (sqlite3_stmt *stmt, int app_index, int uid_index, const DevbgOwner *owner)
{
  if (owner == NULL)
    {
      sqlite3_bind_null (stmt, app_index);
      sqlite3_bind_null (stmt, uid_index);
      return;
    }
  sqlite3_bind_text (stmt, app_index, owner->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, uid_index, owner->uid);
}

static char *
owner_key (guint32 uid, const char *app_id)
{
  return g_strdup_printf ("%u:%s", (unsigned) uid, app_id);
}

/* @owner's set if it is kept, without reading it. */
static DevbgRegistrationSet *
kept_set (DevbgStore *store, guint32 uid, const char *app_id)
{
  g_autofree char *key = owner_key (uid, app_id);

  return g_hash_table_lookup (store->registration_sets, key);
}

static gboolean
insert_registration (DevbgStore *store, const DevbgRegistrationRecord *reg, GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare (store,
    "INSERT INTO registrations (task_id, app_id, name, entry_point, trigger, created_us, uid) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)", error);
  DevbgRegistrationSet *set;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, reg->task_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, reg->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, reg->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, reg->entry_point, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, devbg_trigger_type_to_string (reg->trigger), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, reg->created_us);
  sqlite3_bind_int64 (stmt, 7, reg->uid);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot store the registration");
  set = kept_set (store, reg->uid, reg->app_id);
  if (set != NULL)
    {
      DevbgRegistrationRecord stored = *reg;

      stored.cursor = sqlite3_last_insert_rowid (store->db);
      devbg_registration_set_add (set, &stored);
    }
  return TRUE;
}

gboolean
devbg_store_add_registration (DevbgStore *store, const DevbgRegistrationRecord *reg, GError **error)
{
  group_flush (store);
  return insert_registration (store, reg, error);
}

void
devbg_store_add_registration_async (DevbgStore *store, const DevbgRegistrationRecord *reg,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (store, NULL, callback, user_data);
  GError *error = NULL;

  /* A row the database refuses (a duplicate) fails alone; the group goes on. */
  if (!group_join (store, &error) || !insert_registration (store, reg, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_ptr_array_add (store->group_waiters, g_steal_pointer (&task));
}

gboolean
devbg_store_add_registration_finish (DevbgStore *store, GAsyncResult *result, GError **error)
{
  (void) store;
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
devbg_store_remove_registration (DevbgStore *store, const DevbgOwner *owner, const char *task_id,
                                 GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare_write (store,
    "DELETE FROM registrations WHERE task_id = ? AND app_id = ? AND uid = ?", error);
  DevbgRegistrationSet *set;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, task_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, owner->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, owner->uid);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot remove the registration");
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION,
                   "the app has no registration with task ID %s", task_id);
      return FALSE;
    }
  set = kept_set (store, owner->uid, owner->app_id);
  if (set != NULL)
    devbg_registration_set_remove (set, task_id);
  return TRUE;
}

/* @owner's registrations: the kept set, read from the table at the first
 * call. NULL with @error set when the table cannot be read. */
static DevbgRegistrationSet *
owner_set (DevbgStore *store, const DevbgOwner *owner, GError **error)
{
  g_autofree char *key = owner_key (owner->uid, owner->app_id);
  DevbgRegistrationSet *set = g_hash_table_lookup (store->registration_sets, key);
  g_autoptr(DevbgRegistrationSet) read = NULL;
  g_autoptr(StoreStmt) stmt = NULL;
  int rc;

  if (set != NULL)
    return set;
  stmt = prepare (store,
    "SELECT task_id, name, entry_point, trigger, created_us, rowid FROM registrations "
    "WHERE uid = ?2 AND app_id = ?1 ORDER BY rowid", error);
  if (stmt == NULL)
    return NULL;
  bind_owner (stmt, 1, 2, owner);
  read = devbg_registration_set_new (owner);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      DevbgRegistrationRecord reg = {
        .task_id = (char *) sqlite3_column_text (stmt, 0),
        .uid = owner->uid,
        .app_id = (char *) owner->app_id,
        .name = (char *) sqlite3_column_text (stmt, 1),
        .entry_point = (char *) sqlite3_column_text (stmt, 2),
        .created_us = sqlite3_column_int64 (stmt, 4),
        .cursor = sqlite3_column_int64 (stmt, 5),
      };

      if (!devbg_trigger_type_from_string ((const char *) sqlite3_column_text (stmt, 3),
                                           &reg.trigger))
        reg.trigger = DEVBG_TRIGGER_USE; /* the CHECK constraint makes this unreachable */
      devbg_registration_set_add (read, &reg);
    }
  if (rc != SQLITE_DONE)
    {
      sql_fail (store, error, "cannot read the registrations");
      return NULL;
    }
  set = g_steal_pointer (&read);
  g_hash_table_insert (store->registration_sets, g_steal_pointer (&key), set);
  return set;
}

/* Visits the registrations of @owner after @cursor, oldest first, without
 * copying them. */
static gboolean
foreach_registration (DevbgStore *store, const DevbgOwner *owner, gint64 cursor,
                      DevbgRegistrationVisitor visit, gpointer user_data,
                      GError **error)
{
  DevbgRegistrationSet *set;

  g_return_val_if_fail (owner != NULL, FALSE);
  set = owner_set (store, owner, error);
  if (set == NULL)
    return FALSE;
  devbg_registration_set_foreach (set, cursor, visit, user_data);
  return TRUE;
}

GBytes *
devbg_store_pack_registrations (DevbgStore *store, const DevbgOwner *owner, gint64 cursor,
                                gsize max_bytes, gint64 *last_cursor, gboolean *more,
                                GError **error)
{
  DevbgRegistrationSet *set = owner_set (store, owner, error);

  if (set == NULL)
    return NULL;
  return devbg_registration_set_pack (set, cursor, max_bytes, last_cursor, more);
}

static DevbgRegistrationRecord *
registration_copy (const DevbgRegistrationRecord *reg)
{
  DevbgRegistrationRecord *copy = g_new0 (DevbgRegistrationRecord, 1);

  *copy = *reg;
  copy->task_id = g_strdup (reg->task_id);
  copy->app_id = g_strdup (reg->app_id);
  copy->name = g_strdup (reg->name);
  copy->entry_point = g_strdup (reg->entry_point);
  return copy;
}

/* A list's copies of the rows a visitor sees, up to @limit. */
typedef struct {
  GPtrArray *out;
  guint      limit;
} CopyList;

static gboolean
add_copy (const DevbgRegistrationRecord *reg, gpointer user_data)
{
  CopyList *list = user_data;

  g_ptr_array_add (list->out, registration_copy (reg));
  return list->out->len < list->limit;
}

GPtrArray *
devbg_store_list_registrations (DevbgStore *store, const DevbgOwner *owner, gint64 cursor,
                                guint limit, GError **error)
{
  g_autoptr(GPtrArray) regs = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_registration_record_free);
  CopyList list = { regs, limit };

  if (limit == 0)
    return g_steal_pointer (&regs);
  if (!foreach_registration (store, owner, cursor, add_copy, &list, error))
    return NULL;
  return g_steal_pointer (&regs);
}

DevbgRegistrationRecord *
devbg_store_get_registration (DevbgStore *store, const DevbgOwner *owner, const char *task_id,
                              GError **error)
{
  DevbgRegistrationSet *set = owner_set (store, owner, error);
  DevbgRegistrationRecord reg;

  if (set == NULL)
    return NULL;
  if (!devbg_registration_set_lookup (set, task_id, &reg))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION,
                   "the app has no registration with task ID %s", task_id);
      return NULL;
    }
  return registration_copy (&reg);
}

gint64
devbg_store_count_registrations (DevbgStore *store, const DevbgOwner *owner, GError **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  if (owner != NULL)
    {
      DevbgRegistrationSet *set = owner_set (store, owner, error);

      return set != NULL ? (gint64) devbg_registration_set_get_size (set) : -1;
    }
  stmt = prepare (store, "SELECT count(*) FROM registrations", error);
  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      sql_fail (store, error, "cannot count registrations");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

static void
devbg_store_finalize (GObject *object)
{
  DevbgStore *store = DEVBG_STORE (object);

  if (store->db != NULL)
    {
      group_flush (store);
      clear_statements (store);
      sqlite3_close (store->db);
    }
  if (store->lock_fd >= 0)
    close (store->lock_fd);
  g_free (store->path);
  g_clear_pointer (&store->salvaged, g_ptr_array_unref);
  g_clear_pointer (&store->statements, g_hash_table_unref);
  g_clear_pointer (&store->registration_sets, g_hash_table_unref);
  G_OBJECT_CLASS (devbg_store_parent_class)->finalize (object);
}

static void
devbg_store_class_init (DevbgStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_store_finalize;
}

static void
devbg_store_init (DevbgStore *store)
{
  store->lock_fd = -1;
  store->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) g_ptr_array_unref);
  store->registration_sets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                   (GDestroyNotify) devbg_registration_set_free);
}

/* ---- the task runtime ---- */

void
devbg_instance_record_free (DevbgInstanceRecord *rec)
{
  if (rec == NULL)
    return;
  g_free (rec->instance_id);
  g_free (rec->task_id);
  g_free (rec->app_id);
  g_free (rec->name);
  g_free (rec->entry_point);
  g_free (rec->device_id);
  g_free (rec->cgroup);
  g_free (rec->error);
  g_free (rec->cancel_reason);
  g_free (rec);
}

void
devbg_event_record_free (DevbgEventRecord *ev)
{
  if (ev == NULL)
    return;
  g_free (ev->event_id);
  g_free (ev->app_id);
  g_free (ev->task_id);
  g_free (ev->instance_id);
  g_free (ev->error);
  g_free (ev->cancel_reason);
  g_free (ev);
}

static char *
column_dup (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

static DevbgTriggerType
column_trigger (sqlite3_stmt *stmt, int col)
{
  DevbgTriggerType t = DEVBG_TRIGGER_USE;
  devbg_trigger_type_from_string ((const char *) sqlite3_column_text (stmt, col), &t);
  return t;
}

/* The columns instances and history share, in this order. */
#define INSTANCE_COLUMNS "instance_id, task_id, app_id, name, entry_point, trigger, device_id, uid, started_us"
#define N_INSTANCE_COLUMNS 9

static void
bind_instance_columns (sqlite3_stmt *stmt, const DevbgInstanceRecord *rec)
{
  sqlite3_bind_text (stmt, 1, rec->instance_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, rec->task_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, rec->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, rec->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, rec->entry_point, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, devbg_trigger_type_to_string (rec->trigger), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 7, rec->device_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 8, rec->uid);
  sqlite3_bind_int64 (stmt, 9, rec->started_us);
}

static DevbgInstanceRecord *
instance_from_columns (sqlite3_stmt *stmt)
{
  DevbgInstanceRecord *rec = g_new0 (DevbgInstanceRecord, 1);

  rec->instance_id = column_dup (stmt, 0);
  rec->task_id = column_dup (stmt, 1);
  rec->app_id = column_dup (stmt, 2);
  rec->name = column_dup (stmt, 3);
  rec->entry_point = column_dup (stmt, 4);
  rec->trigger = column_trigger (stmt, 5);
  rec->device_id = column_dup (stmt, 6);
  rec->uid = (guint32) sqlite3_column_int64 (stmt, 7);
  rec->started_us = sqlite3_column_int64 (stmt, 8);
  return rec;
}

gboolean
devbg_store_add_instance (DevbgStore *store, const DevbgInstanceRecord *rec, GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare_write (store,
    "INSERT INTO instances (" INSTANCE_COLUMNS ", pid, pid_start, cgroup) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", error);

  if (stmt == NULL)
    return FALSE;
  bind_instance_columns (stmt, rec);
  sqlite3_bind_int64 (stmt, 10, rec->pid);
  sqlite3_bind_int64 (stmt, 11, (sqlite3_int64) rec->pid_start);
  sqlite3_bind_text (stmt, 12, rec->cgroup, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot record the instance");
  return TRUE;
}

GPtrArray *
devbg_store_list_instances (DevbgStore *store, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_instance_record_free);
  g_autoptr(StoreStmt) stmt = prepare (store,
    "SELECT " INSTANCE_COLUMNS ", pid, pid_start, cgroup FROM instances ORDER BY started_us",
    error);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      DevbgInstanceRecord *rec = instance_from_columns (stmt);
      rec->pid = (gint32) sqlite3_column_int64 (stmt, N_INSTANCE_COLUMNS);
      rec->pid_start = (guint64) sqlite3_column_int64 (stmt, N_INSTANCE_COLUMNS + 1);
      rec->cgroup = column_dup (stmt, N_INSTANCE_COLUMNS + 2);
      g_ptr_array_add (out, rec);
    }
  if (rc != SQLITE_DONE)
    {
      sql_fail (store, error, "cannot list instances");
      return NULL;
    }
  return g_steal_pointer (&out);
}

/* The row's record, as History serves it. */
static GByteArray *
history_record_pack (const DevbgInstanceRecord *rec)
{
  GByteArray *record = g_byte_array_sized_new (256);
  DevbgHistoryRecord r = {
    .instance_id = rec->instance_id, .task_id = rec->task_id, .app_id = rec->app_id,
    .name = rec->name, .entry_point = rec->entry_point, .trigger = rec->trigger,
    .device_id = rec->device_id, .uid = rec->uid, .started_us = rec->started_us,
    .finished_us = rec->finished_us, .success = rec->success,
    .error = rec->error ? rec->error : "",
    .cancel_reason = rec->cancel_reason ? rec->cancel_reason : "",
  };

  devbg_records_add_history (record, &r);
  return record;
}

/* The row's record, as WatchEvents and ListEvents serve it. */
static GByteArray *
event_record_pack (const DevbgEventRecord *ev)
{
  GByteArray *record = g_byte_array_sized_new (160);
  DevbgEventEntry e = {
    .event_id = ev->event_id, .task_id = ev->task_id, .instance_id = ev->instance_id,
    .success = ev->success, .error = ev->error ? ev->error : "",
    .cancel_reason = ev->cancel_reason ? ev->cancel_reason : "", .finished_us = ev->finished_us,
  };

  devbg_records_add_event (record, &e);
  return record;
}

static gboolean
finish_instance_steps (DevbgStore *store, const DevbgInstanceRecord *rec,
                       const DevbgEventRecord *ev, GError **error)
{
  g_autoptr(StoreStmt) del = prepare (store, "DELETE FROM instances WHERE instance_id = ?", error);
  g_autoptr(StoreStmt) hist = NULL;
  g_autoptr(StoreStmt) evt = NULL;
  g_autoptr(GByteArray) history = NULL;
  g_autoptr(GByteArray) event = NULL;

  if (del == NULL)
    return FALSE;
  sqlite3_bind_text (del, 1, rec->instance_id, -1, SQLITE_STATIC);
  if (sqlite3_step (del) != SQLITE_DONE)
    return sql_fail (store, error, "cannot end the instance");

  hist = prepare (store,
    "INSERT OR REPLACE INTO history (uid, app_id, seq, instance_id, finished_us, record) "
    "VALUES (?2, ?3, (SELECT coalesce(max(seq), 0) + 1 FROM history), ?1, ?4, ?5)", error);
  if (hist == NULL)
    return FALSE;
  history = history_record_pack (rec);
  sqlite3_bind_text (hist, 1, rec->instance_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (hist, 2, rec->uid);
  sqlite3_bind_text (hist, 3, rec->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (hist, 4, rec->finished_us);
  sqlite3_bind_blob (hist, 5, history->data, (int) history->len, SQLITE_STATIC);
  if (sqlite3_step (hist) != SQLITE_DONE)
    return sql_fail (store, error, "cannot record the history");

  evt = prepare (store,
    "INSERT INTO events (uid, app_id, seq, event_id, record) "
    "VALUES (?2, ?3, (SELECT coalesce(max(seq), 0) + 1 FROM events), ?1, ?4)", error);
  if (evt == NULL)
    return FALSE;
  event = event_record_pack (ev);
  sqlite3_bind_text (evt, 1, ev->event_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (evt, 2, ev->uid);
  sqlite3_bind_text (evt, 3, ev->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob (evt, 4, event->data, (int) event->len, SQLITE_STATIC);
  if (sqlite3_step (evt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot queue the completion event");
  return TRUE;
}

gboolean
devbg_store_finish_instance (DevbgStore *store, const DevbgInstanceRecord *rec,
                             const DevbgEventRecord *event, GError **error)
{
  group_flush (store);
  if (!exec (store, "BEGIN IMMEDIATE;", error))
    return FALSE;
  if (!finish_instance_steps (store, rec, event, error))
    {
      exec (store, "ROLLBACK;", NULL);
      return FALSE;
    }
  return commit (store, error);
}

/* Steps @stmt, whose columns are the record and its seq, through
 * @visit; @what names the list in messages. A row the visitor finds
 * damaged (torn by a disk fault, or written by hand) is passed over and
 * said, never served to a client that would refuse the whole page. The
 * fields' UTF-8 was checked before they were stored. */
static gboolean
visit_records (DevbgStore *store, sqlite3_stmt *stmt, guint n_fields, const char *what,
               DevbgRecordVisitor visit, gpointer user_data, GError **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const guint8 *record = sqlite3_column_blob (stmt, 0);
      gsize size = (gsize) sqlite3_column_bytes (stmt, 0);
      gint64 seq = sqlite3_column_int64 (stmt, 1);
      DevbgRecordVisit visited = record != NULL ? visit (record, size, seq, user_data)
                                                : DEVBG_RECORD_DAMAGED;

      if (visited == DEVBG_RECORD_FULL)
        return TRUE;
      if (visited == DEVBG_RECORD_DAMAGED)
        g_warning ("%s: %s row %" G_GINT64_FORMAT " is damaged (not %u whole fields); "
                   "passed over", store->path, what, seq, n_fields);
    }
  if (rc != SQLITE_DONE)
    return sql_fail (store, error, what[0] == 'h' ? "cannot list the history"
                                                  : "cannot list events");
  return TRUE;
}

gboolean
devbg_store_foreach_event (DevbgStore *store, const DevbgOwner *owner, gint64 cursor,
                           DevbgRecordVisitor visit, gpointer user_data, GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare (store,
    "SELECT record, seq FROM events WHERE uid = ?2 AND app_id = ?1 AND seq > ?3 "
    "ORDER BY seq", error);

  if (stmt == NULL)
    return FALSE;
  bind_owner (stmt, 1, 2, owner);
  sqlite3_bind_int64 (stmt, 3, cursor);
  return visit_records (store, stmt, DEVBG_EVENT_FIELDS, "events", visit, user_data, error);
}

typedef struct {
  GPtrArray        *out;
  guint             limit;
  const DevbgOwner *owner;
} CopyRecords;

static DevbgRecordVisit
copy_event (const guint8 *record, gsize size, gint64 cursor, gpointer user_data)
{
  CopyRecords *list = user_data;
  g_autoptr(GPtrArray) f = devbg_records_parse (record, size, DEVBG_EVENT_FIELDS, NULL);
  DevbgEventEntry e;
  DevbgEventRecord *copy;

  if (f == NULL ||
      !devbg_records_decode_event ((const char *const *) f->pdata, list->out->len, &e, NULL))
    return DEVBG_RECORD_DAMAGED;
  copy = g_new0 (DevbgEventRecord, 1);
  copy->event_id = g_strdup (e.event_id);
  copy->uid = list->owner->uid;
  copy->app_id = g_strdup (list->owner->app_id);
  copy->task_id = g_strdup (e.task_id);
  copy->instance_id = g_strdup (e.instance_id);
  copy->success = e.success;
  copy->error = g_strdup (e.error);
  copy->cancel_reason = g_strdup (e.cancel_reason);
  copy->finished_us = e.finished_us;
  copy->cursor = cursor;
  g_ptr_array_add (list->out, copy);
  return list->out->len < list->limit ? DEVBG_RECORD_TAKEN : DEVBG_RECORD_FULL;
}

GPtrArray *
devbg_store_list_events (DevbgStore *store, const DevbgOwner *owner, gint64 cursor, guint limit,
                         GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_event_record_free);
  CopyRecords list = { out, limit, owner };

  if (limit > 0 && !devbg_store_foreach_event (store, owner, cursor, copy_event, &list, error))
    return NULL;
  return g_steal_pointer (&out);
}

gint64
devbg_store_count_events (DevbgStore *store, const DevbgOwner *owner, GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare (store,
    "SELECT count(*) FROM events WHERE app_id = ?1 AND uid = ?2", error);

  if (stmt == NULL)
    return -1;
  bind_owner (stmt, 1, 2, owner);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      sql_fail (store, error, "cannot count events");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

gboolean
devbg_store_ack_events (DevbgStore *store, const DevbgOwner *owner, const char *const *event_ids,
                        GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare_write (store,
    "DELETE FROM events WHERE event_id = ?3 AND app_id = ?1 AND uid = ?2", error);

  if (stmt == NULL || !exec (store, "BEGIN IMMEDIATE;", error))
    return FALSE;
  for (const char *const *id = event_ids; *id != NULL; id++)
    {
      sqlite3_reset (stmt);
      bind_owner (stmt, 1, 2, owner);
      sqlite3_bind_text (stmt, 3, *id, -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          sql_fail (store, error, "cannot acknowledge events");
          exec (store, "ROLLBACK;", NULL);
          return FALSE;
        }
    }
  return commit (store, error);
}

gboolean
devbg_store_foreach_history (DevbgStore *store, const DevbgListScope *scope, gint64 cursor,
                             DevbgRecordVisitor visit, gpointer user_data, GError **error)
{
  /* One statement per scope, each a plain range of an index (one app's:
   * of the table itself): a condition such as "?3 OR uid = ?2" or
   * "?4 = 0 OR seq < ?4" keeps SQLite from using any: every page scanned
   * the whole table (one app's page among 50,000 rows: 4.3 ms, against
   * 0.04 ms). */
  static const char *const by_scope[] = {
    "SELECT record, seq FROM history WHERE seq < ?4 ORDER BY seq DESC",
    "SELECT record, seq FROM history WHERE uid = ?2 AND seq < ?4 ORDER BY seq DESC",
    "SELECT record, seq FROM history WHERE uid = ?2 AND app_id = ?1 AND seq < ?4 "
    "ORDER BY seq DESC",
  };
  g_autoptr(StoreStmt) stmt = prepare (store,
    by_scope[scope->all ? 0 : scope->app_id == NULL ? 1 : 2], error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, scope->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, scope->uid);
  /* Newest first: a page goes on below the last one's position. */
  sqlite3_bind_int64 (stmt, 4, cursor == DEVBG_STORE_CURSOR_START ? G_MAXINT64 : cursor);
  return visit_records (store, stmt, DEVBG_HISTORY_FIELDS, "history", visit, user_data, error);
}

static DevbgRecordVisit
copy_history (const guint8 *record, gsize size, gint64 cursor, gpointer user_data)
{
  CopyRecords *list = user_data;
  g_autoptr(GPtrArray) f = devbg_records_parse (record, size, DEVBG_HISTORY_FIELDS, NULL);
  DevbgHistoryRecord r;
  DevbgInstanceRecord *copy;

  if (f == NULL ||
      !devbg_records_decode_history ((const char *const *) f->pdata, list->out->len, &r, NULL))
    return DEVBG_RECORD_DAMAGED;
  copy = g_new0 (DevbgInstanceRecord, 1);
  copy->instance_id = g_strdup (r.instance_id);
  copy->task_id = g_strdup (r.task_id);
  copy->app_id = g_strdup (r.app_id);
  copy->name = g_strdup (r.name);
  copy->entry_point = g_strdup (r.entry_point);
  copy->trigger = r.trigger;
  copy->device_id = g_strdup (r.device_id);
  copy->uid = r.uid;
  copy->started_us = r.started_us;
  copy->finished_us = r.finished_us;
  copy->success = r.success;
  copy->error = g_strdup (r.error);
  copy->cancel_reason = g_strdup (r.cancel_reason);
  copy->cursor = cursor;
  g_ptr_array_add (list->out, copy);
  return list->out->len < list->limit ? DEVBG_RECORD_TAKEN : DEVBG_RECORD_FULL;
}

GPtrArray *
devbg_store_list_history (DevbgStore *store, const DevbgListScope *scope, gint64 cursor,
                          guint limit, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_instance_record_free);
  CopyRecords list = { out, limit, NULL };

  if (limit > 0 && !devbg_store_foreach_history (store, scope, cursor, copy_history, &list, error))
    return NULL;
  return g_steal_pointer (&out);
}

gboolean
devbg_store_prune_history (DevbgStore *store, const DevbgOwner *owner, guint max_per_owner,
                           gint64 min_finished_us, GError **error)
{
  g_autoptr(StoreStmt) by_count = prepare_write (store,
    "DELETE FROM history WHERE uid = ?2 AND app_id = ?1 AND seq <= "
    "(SELECT seq FROM history WHERE uid = ?2 AND app_id = ?1 "
    " ORDER BY seq DESC LIMIT 1 OFFSET ?3)", error);
  g_autoptr(StoreStmt) by_age = NULL;

  if (by_count == NULL)
    return FALSE;
  bind_owner (by_count, 1, 2, owner);
  sqlite3_bind_int64 (by_count, 3, max_per_owner);
  if (sqlite3_step (by_count) != SQLITE_DONE)
    return sql_fail (store, error, "cannot prune the history");
  by_age = prepare (store, "DELETE FROM history WHERE finished_us < ?", error);
  if (by_age == NULL)
    return FALSE;
  sqlite3_bind_int64 (by_age, 1, min_finished_us);
  if (sqlite3_step (by_age) != SQLITE_DONE)
    return sql_fail (store, error, "cannot prune the history");
  return TRUE;
}

/* ---- stored consent ---- */

gboolean
devbg_store_add_consent (DevbgStore *store, const DevbgOwner *owner, const char *model_id,
                         gint64 created_us, GError **error)
{
  /* Asked again (two prompts for one model raced): the first answer's time stays. */
  g_autoptr(StoreStmt) stmt = prepare_write (store,
    "INSERT OR IGNORE INTO consent (uid, app_id, model_id, created_us) VALUES (?2, ?1, ?3, ?4)",
    error);

  if (stmt == NULL)
    return FALSE;
  bind_owner (stmt, 1, 2, owner);
  sqlite3_bind_text (stmt, 3, model_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, created_us);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot store the consent");
  return TRUE;
}

int
devbg_store_has_consent (DevbgStore *store, const DevbgOwner *owner, const char *model_id,
                         GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare (store,
    "SELECT 1 FROM consent WHERE app_id = ?1 AND uid = ?2 AND model_id = ?3", error);
  int rc;

  if (stmt == NULL)
    return -1;
  bind_owner (stmt, 1, 2, owner);
  sqlite3_bind_text (stmt, 3, model_id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  sql_fail (store, error, "cannot read the stored consent");
  return -1;
}

/* Column @column of @stmt's row as UTF-8 text: NULL when it is not
 * (damage; the row is passed over). */
static const char *
column_utf8 (sqlite3_stmt *stmt, int column)
{
  const char *text = (const char *) sqlite3_column_text (stmt, column);

  return text != NULL && g_utf8_validate (text, -1, NULL) ? text : NULL;
}

gboolean
devbg_store_foreach_consent (DevbgStore *store, const DevbgListScope *scope, gint64 cursor,
                             DevbgRecordVisitor visit, gpointer user_data, GError **error)
{
  /* One statement per scope, each a plain range of an index, as for the
   * history: "?1 OR uid = ?2 ..." made SQLite walk the whole table from
   * the cursor for every caller, every user's consent. */
  static const char *const by_scope[] = {
    "SELECT uid, app_id, model_id, created_us, rowid FROM consent "
    "WHERE rowid > ?4 ORDER BY rowid",
    "SELECT uid, app_id, model_id, created_us, rowid FROM consent INDEXED BY consent_by_user "
    "WHERE uid = ?2 AND rowid > ?4 ORDER BY rowid",
    "SELECT uid, app_id, model_id, created_us, rowid FROM consent INDEXED BY consent_by_owner "
    "WHERE uid = ?2 AND app_id = ?3 AND rowid > ?4 ORDER BY rowid",
  };
  g_autoptr(StoreStmt) stmt = prepare (store,
    by_scope[scope->all ? 0 : scope->app_id == NULL ? 1 : 2], error);
  g_autoptr(GByteArray) record = g_byte_array_sized_new (128);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 2, scope->uid);
  sqlite3_bind_text (stmt, 3, scope->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, cursor);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      DevbgPermissionEntry entry = {
        .uid = (guint32) sqlite3_column_int64 (stmt, 0),
        .app_id = column_utf8 (stmt, 1),
        .model_id = column_utf8 (stmt, 2),
        .created_us = sqlite3_column_int64 (stmt, 3),
      };
      gint64 seq = sqlite3_column_int64 (stmt, 4);

      if (entry.app_id == NULL || *entry.app_id == '\0' || entry.model_id == NULL)
        {
          g_warning ("%s: consent row %" G_GINT64_FORMAT " is damaged (its app or model ID "
                     "is no UTF-8 text); passed over", store->path, seq);
          continue;
        }
      g_byte_array_set_size (record, 0);
      devbg_records_add_permission (record, &entry);
      /* Whole as just written: not damaged. */
      if (visit (record->data, record->len, seq, user_data) == DEVBG_RECORD_FULL)
        return TRUE;
    }
  if (rc != SQLITE_DONE)
    return sql_fail (store, error, "cannot list the stored consent");
  return TRUE;
}

gint64
devbg_store_remove_consent (DevbgStore *store, const DevbgOwner *owner, const char *model_id,
                            GError **error)
{
  g_autoptr(StoreStmt) stmt = prepare_write (store,
    "DELETE FROM consent WHERE app_id = ?1 AND uid = ?2 AND (?3 IS NULL OR model_id = ?3)",
    error);

  if (stmt == NULL)
    return -1;
  bind_owner (stmt, 1, 2, owner);
  sqlite3_bind_text (stmt, 3, model_id, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      sql_fail (store, error, "cannot remove the stored consent");
      return -1;
    }
  return sqlite3_changes (store->db);
}
