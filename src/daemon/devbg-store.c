/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-store.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "devbg-error.h"

struct _DevbgStore {
  GObject  parent;
  sqlite3 *db;
  char    *path;
};

G_DEFINE_TYPE (DevbgStore, devbg_store, G_TYPE_OBJECT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

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

static sqlite3_stmt *
prepare (DevbgStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      sql_fail (store, error, "cannot prepare a statement");
      return NULL;
    }
  return stmt;
}

guint
devbg_store_get_schema_version (DevbgStore *store)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (store, "PRAGMA user_version", NULL);

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
      if (!exec (store, "COMMIT;", error))
        return FALSE;
      g_debug ("store: migrated schema to version %u", version + 1);
    }
  return TRUE;
}

DevbgStore *
devbg_store_open (const char *state_dir, GError **error)
{
  g_autoptr(DevbgStore) store = g_object_new (DEVBG_TYPE_STORE, NULL);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int err = errno;
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE, "cannot create state directory %s: %s",
                   state_dir, g_strerror (err));
      return NULL;
    }
  store->path = g_build_filename (state_dir, "devbg.db", NULL);
  if (sqlite3_open_v2 (store->path, &store->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      sql_fail (store, error, "cannot open the database");
      return NULL;
    }
  sqlite3_busy_timeout (store->db, 5000);
  /* WAL with synchronous=FULL: every commit is on disk before it returns. */
  if (!exec (store, "PRAGMA journal_mode = WAL;"
                    "PRAGMA synchronous = FULL;"
                    "PRAGMA foreign_keys = ON;", error))
    return NULL;
  if (!migrate (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

gboolean
devbg_store_add_registration (DevbgStore *store, const DevbgRegistrationRecord *reg, GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (store,
    "INSERT INTO registrations (task_id, app_id, name, entry_point, trigger, created_us) "
    "VALUES (?, ?, ?, ?, ?, ?)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, reg->task_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, reg->app_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, reg->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, reg->entry_point, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, devbg_trigger_type_to_string (reg->trigger), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, reg->created_us);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot store the registration");
  return TRUE;
}

gboolean
devbg_store_remove_registration (DevbgStore *store, const char *app_id, const char *task_id,
                                 GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (store,
    "DELETE FROM registrations WHERE task_id = ? AND app_id = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, task_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, app_id, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return sql_fail (store, error, "cannot remove the registration");
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION,
                   "the app has no registration with task ID %s", task_id);
      return FALSE;
    }
  return TRUE;
}

static DevbgRegistrationRecord *
registration_from_row (sqlite3_stmt *stmt)
{
  DevbgRegistrationRecord *reg = g_new0 (DevbgRegistrationRecord, 1);

  reg->task_id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  reg->app_id = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  reg->name = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  reg->entry_point = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  if (!devbg_trigger_type_from_string ((const char *) sqlite3_column_text (stmt, 4),
                                       &reg->trigger))
    reg->trigger = DEVBG_TRIGGER_USE; /* the CHECK constraint makes this unreachable */
  reg->created_us = sqlite3_column_int64 (stmt, 5);
  return reg;
}

#define REGISTRATION_COLUMNS "task_id, app_id, name, entry_point, trigger, created_us"

GPtrArray *
devbg_store_list_registrations (DevbgStore *store, const char *app_id, GError **error)
{
  g_autoptr(GPtrArray) regs = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_registration_record_free);
  g_autoptr(sqlite3_stmt) stmt = prepare (store,
    "SELECT " REGISTRATION_COLUMNS " FROM registrations "
    "WHERE ?1 IS NULL OR app_id = ?1 ORDER BY created_us, rowid", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, app_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (regs, registration_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      sql_fail (store, error, "cannot list registrations");
      return NULL;
    }
  return g_steal_pointer (&regs);
}

DevbgRegistrationRecord *
devbg_store_get_registration (DevbgStore *store, const char *app_id, const char *task_id,
                              GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (store,
    "SELECT " REGISTRATION_COLUMNS " FROM registrations WHERE task_id = ? AND app_id = ?",
    error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, task_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, app_id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return registration_from_row (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION,
                 "the app has no registration with task ID %s", task_id);
  else
    sql_fail (store, error, "cannot read a registration");
  return NULL;
}

gint64
devbg_store_count_registrations (DevbgStore *store, const char *app_id, GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = prepare (store,
    "SELECT count(*) FROM registrations WHERE ?1 IS NULL OR app_id = ?1", error);

  if (stmt == NULL)
    return -1;
  sqlite3_bind_text (stmt, 1, app_id, -1, SQLITE_STATIC);
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
    sqlite3_close (store->db);
  g_free (store->path);
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
  (void) store;
}
