/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The store's open path: a damaged database is moved aside and replaced,
 * a newer one is refused untouched.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "devbg-error.h"
#include "devbg-names.h"
#include "devbg-records.h"
#include "devbg-store.h"
#include "store-schema-4.h"

static const DevbgRegistrationRecord reg = {
  .task_id = (char *) "9b2c8c1e-4f0a-4c4e-9d7e-5a0b8f3c2d10", .app_id = (char *) "org.a.B",
  .name = (char *) "sync", .entry_point = (char *) "B.Sync", .trigger = DEVBG_TRIGGER_USE,
  .created_us = 1,
};

/* devbgd logs structured, which g_test_expect_message() does not see:
 * warnings and criticals are caught here instead. */
static GPtrArray *logged;

static GLogWriterOutput
catch_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    for (gsize i = 0; i < n_fields; i++)
      if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        {
          g_ptr_array_add (logged, g_strdup (fields[i].value));
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, data);
}

/* The one message logged since the last call, which must match @pattern. */
static void
assert_logged (const char *pattern)
{
  g_assert_cmpuint (logged->len, ==, 1);
  if (!g_pattern_match_simple (pattern, g_ptr_array_index (logged, 0)))
    g_error ("logged '%s', expected '%s'", (char *) g_ptr_array_index (logged, 0), pattern);
  g_ptr_array_set_size (logged, 0);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The files of @dir whose names start with @prefix. */
static GPtrArray *
files_starting (const char *dir, const char *prefix)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, prefix))
      g_ptr_array_add (out, g_strdup (name));
  g_ptr_array_sort (out, compare_names);
  return out;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GPtrArray) all = files_starting (dir, "");

  for (guint i = 0; i < all->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, g_ptr_array_index (all, i), NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
test_garbage_moved_aside (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-store-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "devbg.db", NULL);
  g_autofree char *wal = g_build_filename (dir, "devbg.db-wal", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) kept = NULL;
  g_autofree char *kept_path = NULL;
  g_autofree char *text = NULL;

  g_assert_true (g_file_set_contents (db, "not a database at all, no matter how long it goes on "
                                          "for, it is text: this is not a SQLite file header", -1,
                                      NULL));
  g_assert_true (g_file_set_contents (wal, "stale log", -1, NULL));
  {
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    assert_logged ("*the database is corrupt*file is not a database*moved it aside to "
                   "*devbg.db.corrupt-*");
    g_assert_no_error (error);
    g_assert_cmpuint (devbg_store_get_schema_version (store), ==, DEVBG_STORE_SCHEMA_VERSION);
    g_assert_true (devbg_store_add_registration (store, &reg, &error));
    g_assert_cmpint (devbg_store_count_registrations (store, NULL, &error), ==, 1);
    /* Nothing could be read of the instances; asked again, still none. */
    g_assert_null (devbg_store_take_salvaged_instances (store));
  }
  /* Kept as it was found, with its log (and shared memory) beside it,
   * under one name. */
  kept = files_starting (dir, "devbg.db.corrupt-");
  g_assert_cmpuint (kept->len, ==, 3);
  g_assert_true (g_str_has_suffix (g_ptr_array_index (kept, 1), "-shm"));
  g_assert_true (g_str_has_suffix (g_ptr_array_index (kept, 2), "-wal"));
  kept_path = g_build_filename (dir, g_ptr_array_index (kept, 0), NULL);
  g_assert_true (g_file_get_contents (kept_path, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "not a database at all"));
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&kept_path, g_free);
  kept_path = g_build_filename (dir, g_ptr_array_index (kept, 2), NULL);
  g_assert_true (g_file_get_contents (kept_path, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "stale log");
  remove_dir (dir);
}

static void
test_damaged_page_salvaged (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-store-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "devbg.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) salvaged = NULL;
  DevbgInstanceRecord running = {
    .instance_id = (char *) "0d6f0b8e-8a56-4b8e-9d4c-0f8e6a1f2b3c", .task_id = reg.task_id,
    .app_id = reg.app_id, .name = reg.name, .entry_point = reg.entry_point,
    .device_id = (char *) "virtual-B0A1-0000", .uid = 1000, .pid = 4242, .pid_start = 77,
    .cgroup = (char *) "/sys/fs/cgroup/devbg/instance-0d6f0b8e-8a56-4b8e-9d4c-0f8e6a1f2b3c",
  };
  sqlite3 *raw = NULL;
  int root = 0;
  FILE *f;

  {
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    g_assert_no_error (error);
    g_assert_true (devbg_store_add_registration (store, &reg, &error));
    g_assert_true (devbg_store_add_instance (store, &running, &error));
  }
  /* Everything into the main file; then the registrations table's page
   * is overwritten. */
  g_assert_cmpint (sqlite3_open (db, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  {
    sqlite3_stmt *stmt = NULL;
    sqlite3_prepare_v2 (raw, "SELECT rootpage FROM sqlite_master WHERE name = 'registrations'",
                        -1, &stmt, NULL);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    root = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
  }
  sqlite3_close (raw);
  g_assert_cmpint (root, >, 1);
  f = fopen (db, "r+b");
  g_assert_nonnull (f);
  fseek (f, (long) (root - 1) * 4096, SEEK_SET);
  for (int i = 0; i < 4096; i++)
    fputc (i & 0xff, f);
  fclose (f);

  {
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    DevbgInstanceRecord *back;

    assert_logged ("*the database is corrupt*integrity check failed*moved it aside*");
    g_assert_no_error (error);
    g_assert_cmpint (devbg_store_count_registrations (store, NULL, &error), ==, 0);
    /* What the kept copy still shows running, for the runtime to end. */
    salvaged = devbg_store_take_salvaged_instances (store);
    g_assert_nonnull (salvaged);
    g_assert_cmpuint (salvaged->len, ==, 1);
    back = g_ptr_array_index (salvaged, 0);
    g_assert_cmpstr (back->instance_id, ==, running.instance_id);
    g_assert_cmpint (back->pid, ==, 4242);
    g_assert_cmpuint (back->pid_start, ==, 77);
    g_assert_cmpstr (back->cgroup, ==, running.cgroup);
    g_assert_null (devbg_store_take_salvaged_instances (store));
  }
  remove_dir (dir);
}

static void
test_newer_schema_untouched (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-store-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "devbg.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) kept = NULL;
  g_autoptr(DevbgStore) store = NULL;
  sqlite3 *raw = NULL;

  g_assert_cmpint (sqlite3_open (db, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw, "PRAGMA user_version = 999", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);
  store = devbg_store_open (dir, &error);
  g_assert_null (store);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, "schema version 999 is newer"));
  kept = files_starting (dir, "devbg.db.corrupt");
  g_assert_cmpuint (kept->len, ==, 0);
  g_assert_cmpuint (logged->len, ==, 0);
  g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
  remove_dir (dir);
}

/* The history pages newest first in each caller's scope: every user's, one
 * user's, one user's app's; a page goes on below the last one's position. */
static void
test_history_scopes (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-store-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
  static const struct {
    DevbgListScope scope;
    const char       *expected;
  } cases[] = {
    { { TRUE, 0, NULL }, "9 8 7 6 5 4 3 2 1 0 " },
    { { FALSE, 1001, NULL }, "9 7 5 3 1 " },
    { { FALSE, 1001, "org.a.C" }, "9 3 " },
    { { FALSE, 1000, "org.a.C" }, "6 0 " },
    { { FALSE, 1002, NULL }, "" },
  };

  g_assert_no_error (error);
  for (guint n = 0; n < 10; n++)
    {
      g_autofree char *iid = g_strdup_printf ("%u", n);
      g_autofree char *eid = g_strdup_printf ("event-%u", n);
      DevbgInstanceRecord rec = {
        .instance_id = iid, .task_id = (char *) "t", .app_id = (char *) (n % 3 ? "org.a.B" : "org.a.C"),
        .name = (char *) "sync", .entry_point = (char *) "B.Sync", .device_id = (char *) "d",
        .uid = 1000 + n % 2, .started_us = n, .finished_us = n, .success = TRUE,
      };
      DevbgEventRecord ev = {
        .event_id = eid, .uid = rec.uid, .app_id = rec.app_id, .task_id = rec.task_id,
        .instance_id = iid, .success = TRUE, .finished_us = n,
      };

      g_assert_true (devbg_store_finish_instance (store, &rec, &ev, &error));
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) seen = g_string_new ("");
      gint64 cursor = DEVBG_STORE_CURSOR_START;

      /* Two at a time, to the end. */
      for (;;)
        {
          g_autoptr(GPtrArray) page = devbg_store_list_history (store, &cases[i].scope, cursor, 2,
                                                                &error);
          g_assert_no_error (error);
          for (guint j = 0; j < page->len; j++)
            {
              DevbgInstanceRecord *rec = g_ptr_array_index (page, j);
              g_string_append_printf (seen, "%s ", rec->instance_id);
              cursor = rec->cursor;
            }
          if (page->len < 2)
            break;
        }
      g_assert_cmpstr (seen->str, ==, cases[i].expected);
    }
  remove_dir (dir);
}


/* The record stored in @table for the row whose @key is @id. */
static GBytes *
stored_record (const char *path, const char *table, const char *key, const char *id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT record FROM %s WHERE %s = ?", table, key);
  sqlite3 *raw = NULL;
  sqlite3_stmt *stmt = NULL;
  GBytes *record;

  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (raw, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  record = g_bytes_new (sqlite3_column_blob (stmt, 0), (gsize) sqlite3_column_bytes (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (raw);
  return record;
}

static void
assert_bytes_equal (GBytes *stored, GByteArray *expected)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (stored, &size);

  g_assert_cmpmem (data, size, expected->data, expected->len);
}

/* Schema 4 kept a column per field; schema 5 keeps each row's packed
 * record. The migration writes, for every row, the very bytes devbgd
 * writes for a new one (numbers at their limits, a failure's message in
 * UTF-8 beyond ASCII), keeps the rowids the lists page by, and a row
 * damaged after is passed over with a warning. */
static void
test_records_migrated_from_4 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-store-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "devbg.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
  DevbgListScope all = { TRUE, 0, NULL };
  DevbgOwner owner = { .uid = 4294967294u, .app_id = "org.a.B" };
  const DevbgHistoryRecord failed = {
    "i-failed", "t", "org.a.B", "sync", "B.Sync", DEVBG_TRIGGER_SERVICING, "sim:band:1",
    4294967294u, G_MININT64, G_MAXINT64, FALSE, "la bande s’est éloignée", "condition-loss",
  };
  const DevbgEventEntry event = {
    "e-failed", "t", "i-failed", FALSE, "la bande s’est éloignée", "condition-loss", -1,
  };
  g_autoptr(GByteArray) history_expected = g_byte_array_new ();
  g_autoptr(GByteArray) event_expected = g_byte_array_new ();
  g_autoptr(GBytes) history_stored = NULL;
  g_autoptr(GBytes) event_stored = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GPtrArray) events = NULL;
  DevbgInstanceRecord *h;
  DevbgEventRecord *e;
  sqlite3 *raw = NULL;

  g_assert_no_error (error);
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (db, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw, STORE_SCHEMA_4_TABLES
    "INSERT INTO history (rowid, instance_id, task_id, app_id, name, entry_point, trigger, "
    "  device_id, uid, started_us, finished_us, success, error, cancel_reason) VALUES "
    "  (7, 'i-ok', 't', 'org.a.B', 'sync', 'B.Sync', 'use', 'd', 1000, 5, 6, 1, '', ''),"
    "  (9, 'i-failed', 't', 'org.a.B', 'sync', 'B.Sync', 'servicing', 'sim:band:1', 4294967294,"
    "   -9223372036854775808, 9223372036854775807, 0, 'la bande s’est éloignée',"
    "   'condition-loss');"
    "INSERT INTO events (rowid, event_id, app_id, task_id, instance_id, success, error, "
    "  cancel_reason, finished_us, uid) VALUES "
    "  (3, 'e-failed', 'org.a.B', 't', 'i-failed', 0, 'la bande s’est éloignée', "
    "   'condition-loss', -1, 4294967294),"
    "  (4, 'e-other', 'org.a.B', 't', 'i-ok', 1, '', '', 6, 1000);"
    "PRAGMA user_version = 4;", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);

  store = devbg_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (devbg_store_get_schema_version (store), ==, DEVBG_STORE_SCHEMA_VERSION);
  devbg_records_add_history (history_expected, &failed);
  devbg_records_add_event (event_expected, &event);
  history_stored = stored_record (db, "history", "instance_id", "i-failed");
  event_stored = stored_record (db, "events", "event_id", "e-failed");
  assert_bytes_equal (history_stored, history_expected);
  assert_bytes_equal (event_stored, event_expected);

  history = devbg_store_list_history (store, &all, DEVBG_STORE_CURSOR_START, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->len, ==, 2);
  h = g_ptr_array_index (history, 0);
  g_assert_cmpstr (h->instance_id, ==, "i-failed");
  g_assert_cmpint (h->cursor, ==, 9);
  g_assert_cmpint (h->trigger, ==, DEVBG_TRIGGER_SERVICING);
  g_assert_cmpuint (h->uid, ==, 4294967294u);
  g_assert_cmpint (h->started_us, ==, G_MININT64);
  g_assert_cmpint (h->finished_us, ==, G_MAXINT64);
  g_assert_false (h->success);
  g_assert_cmpstr (h->error, ==, "la bande s’est éloignée");
  h = g_ptr_array_index (history, 1);
  g_assert_cmpstr (h->instance_id, ==, "i-ok");
  g_assert_cmpint (h->cursor, ==, 7);
  g_assert_true (h->success);
  g_assert_cmpstr (h->cancel_reason, ==, "");

  events = devbg_store_list_events (store, &owner, 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 1);
  e = g_ptr_array_index (events, 0);
  g_assert_cmpstr (e->event_id, ==, "e-failed");
  g_assert_cmpstr (e->instance_id, ==, "i-failed");
  g_assert_cmpint (e->finished_us, ==, -1);
  g_assert_cmpint (e->cursor, ==, 3);
  g_clear_pointer (&history, g_ptr_array_unref);

  /* A row torn after (one field short) is passed over, and said. */
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (db, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw, "UPDATE history SET record = CAST('i-ok' || char(0) AS BLOB) "
                                      "WHERE instance_id = 'i-ok'", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);
  store = devbg_store_open (dir, &error);
  g_assert_no_error (error);
  history = devbg_store_list_history (store, &all, DEVBG_STORE_CURSOR_START, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->len, ==, 1);
  assert_logged ("*history row 7 is damaged (not 13 whole fields); passed over");
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK); /* criticals are caught, and checked */
  g_log_set_writer_func (catch_warnings, NULL, NULL);
  logged = g_ptr_array_new_with_free_func (g_free);
  g_test_add_func ("/store/garbage-moved-aside", test_garbage_moved_aside);
  g_test_add_func ("/store/damaged-page-salvaged", test_damaged_page_salvaged);
  g_test_add_func ("/store/newer-schema-untouched", test_newer_schema_untouched);
  g_test_add_func ("/store/history-scopes", test_history_scopes);
  g_test_add_func ("/store/records-migrated-from-4", test_records_migrated_from_4);
  return g_test_run ();
}
