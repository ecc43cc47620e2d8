/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Stored use consent: per (user, app, device model), durable across a
 * reopen, listed per user (root: all), revoked per model or for every model;
 * and a version 3 database is migrated with its registrations kept.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "devbg-names.h"
#include "devbg-records.h"
#include "devbg-store.h"
#include "store-schema-4.h"

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("devbg-consent-store-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (const char *dir)
{
  const char *const names[] = { "devbg.db", "devbg.db-wal", "devbg.db-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static gboolean
has (DevbgStore *store, guint32 uid, const char *app, const char *model)
{
  g_autoptr(GError) error = NULL;
  DevbgOwner owner = { .uid = uid, .app_id = app };
  int r = devbg_store_has_consent (store, &owner, model, &error);

  g_assert_no_error (error);
  g_assert_cmpint (r, >=, 0);
  return r == 1;
}

static void
add (DevbgStore *store, guint32 uid, const char *app, const char *model)
{
  g_autoptr(GError) error = NULL;
  DevbgOwner owner = { .uid = uid, .app_id = app };

  g_assert_true (devbg_store_add_consent (store, &owner, model, 42, &error));
  g_assert_no_error (error);
}

/* A consent as the store's visitor sees it, decoded, and its position. */
typedef struct {
  DevbgPermissionEntry entry;
  gint64               cursor;
  GPtrArray           *fields; /* the record's, which the entry points into */
  GByteArray          *record;
} Listed;

static void
listed_free (Listed *l)
{
  g_ptr_array_unref (l->fields);
  g_byte_array_unref (l->record);
  g_free (l);
}

static DevbgRecordVisit
collect (const guint8 *record, gsize size, gint64 cursor, gpointer user_data)
{
  Listed *l = g_new0 (Listed, 1);
  g_autoptr(GError) error = NULL;

  l->record = g_byte_array_new ();
  g_byte_array_append (l->record, record, (guint) size);
  l->fields = devbg_records_parse (l->record->data, l->record->len, DEVBG_PERMISSION_FIELDS,
                                   &error);
  g_assert_no_error (error);
  g_assert_cmpuint (l->fields->len, ==, DEVBG_PERMISSION_FIELDS);
  g_assert_true (devbg_records_decode_permission ((const char *const *) l->fields->pdata, 0,
                                                  &l->entry, &error));
  l->cursor = cursor;
  g_ptr_array_add (user_data, l);
  return DEVBG_RECORD_TAKEN;
}

/* The consents devbg_store_foreach_consent() visits. */
static GPtrArray *
list_consents (DevbgStore *store, gboolean all, guint32 uid, const char *app_id, gint64 cursor)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) listed_free);
  DevbgListScope scope = { .all = all, .uid = uid, .app_id = app_id };
  g_autoptr(GError) error = NULL;

  g_assert_true (devbg_store_foreach_consent (store, &scope, cursor, collect, out, &error));
  g_assert_no_error (error);
  return out;
}

static void
test_per_user_app_and_model (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
  g_autoptr(GPtrArray) all = NULL, mine = NULL, app_only = NULL;

  g_assert_no_error (error);
  add (store, 1000, "org.a.A", "{m1}");
  add (store, 1000, "org.a.A", "{m1}"); /* twice: still one */
  add (store, 1000, "org.a.A", "");
  add (store, 1001, "org.a.A", "{m2}");
  add (store, 1000, "org.b.B", "{m2}");
  g_assert_true (has (store, 1000, "org.a.A", "{m1}"));
  g_assert_true (has (store, 1000, "org.a.A", ""));
  g_assert_false (has (store, 1001, "org.a.A", "{m1}")); /* another user's */
  g_assert_false (has (store, 1000, "org.b.B", "{m1}")); /* another app's */
  g_assert_false (has (store, 1000, "org.a.A", "{m2}")); /* another model */

  all = list_consents (store, TRUE, 0, NULL, 0);
  g_assert_cmpuint (all->len, ==, 4);
  mine = list_consents (store, FALSE, 1000, NULL, 0);
  g_assert_cmpuint (mine->len, ==, 3);
  app_only = list_consents (store, FALSE, 1000, "org.b.B", 0);
  g_assert_cmpuint (app_only->len, ==, 1);
  g_assert_cmpuint (((Listed *) app_only->pdata[0])->entry.uid, ==, 1000);
  g_assert_cmpstr (((Listed *) app_only->pdata[0])->entry.app_id, ==, "org.b.B");
  g_assert_cmpstr (((Listed *) app_only->pdata[0])->entry.model_id, ==, "{m2}");
  g_assert_cmpint (((Listed *) app_only->pdata[0])->entry.created_us, ==, 42);
  {
    /* Paged: after the first, the rest. */
    g_autoptr(GPtrArray) rest = list_consents (store, FALSE, 1000, NULL,
                                               ((Listed *) mine->pdata[0])->cursor);
    g_assert_cmpuint (rest->len, ==, 2);
  }

  {
    DevbgOwner a = { .uid = 1000, .app_id = "org.a.A" };
    g_assert_cmpint (devbg_store_remove_consent (store, &a, "{m2}", &error), ==, 0);
    g_assert_cmpint (devbg_store_remove_consent (store, &a, "{m1}", &error), ==, 1);
    g_assert_false (has (store, 1000, "org.a.A", "{m1}"));
    g_assert_true (has (store, 1000, "org.a.A", ""));
    g_assert_cmpint (devbg_store_remove_consent (store, &a, NULL, &error), ==, 1);
    g_assert_false (has (store, 1000, "org.a.A", ""));
  }
  /* Others' untouched, and durable across a reopen. */
  g_clear_object (&store);
  store = devbg_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_true (has (store, 1001, "org.a.A", "{m2}"));
  g_assert_true (has (store, 1000, "org.b.B", "{m2}"));
  g_clear_object (&store);
  remove_dir (dir);
}

/* A database of schema 3 (before consent) gains the table and keeps its rows. */
static void
test_migrates_from_3 (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "devbg.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
  sqlite3 *raw = NULL;

  g_assert_no_error (error);
  g_clear_object (&store);
  /* Back to version 3: as a devbgd of before wrote it. */
  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw, STORE_SCHEMA_4_TABLES
                                 "DROP TABLE consent; PRAGMA user_version = 3;"
                                 "INSERT INTO registrations (task_id, app_id, name, entry_point, "
                                 "trigger, created_us, uid) VALUES ('t', 'org.a.A', 'n', 'e', "
                                 "'use', 1, 1000);", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);

  store = devbg_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (devbg_store_get_schema_version (store), ==, DEVBG_STORE_SCHEMA_VERSION);
  g_assert_cmpint (devbg_store_count_registrations (store, NULL, &error), ==, 1);
  add (store, 1000, "org.a.A", "{m1}");
  g_assert_true (has (store, 1000, "org.a.A", "{m1}"));
  g_clear_object (&store);
  remove_dir (dir);
}

/* Best of five: the seconds devbg_store_foreach_consent() takes for one
 * page of @uid's (and @app_id's, when given) consent. */
static double
best_list_time (DevbgStore *store, guint32 uid, const char *app_id, guint expected)
{
  double best = G_MAXDOUBLE;

  for (guint i = 0; i < 5; i++)
    {
      gint64 start = g_get_monotonic_time ();
      g_autoptr(GPtrArray) listed = list_consents (store, FALSE, uid, app_id, 0);

      best = MIN (best, (g_get_monotonic_time () - start) / 1e6);
      g_assert_cmpuint (listed->len, ==, expected);
    }
  return best;
}

/* A user's page, or an app's, reads that user's consent, not everyone's:
 * among 200,000 rows of other users one page took 13 ms (a whole table
 * scan from the cursor, for every call of a caller who has none), now a
 * range of an index. */
static void
test_list_reads_own_rows_only (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "devbg.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
  sqlite3 *raw = NULL;
  double user_s, app_s;

  g_assert_no_error (error);
  add (store, 1000, "org.a.A", "{m1}");
  g_clear_object (&store);
  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw,
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
    "INSERT INTO consent (uid, app_id, model_id, created_us) "
    "SELECT 2000 + i / 100, 'org.o.O', 'm' || i, 1 FROM n;", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);
  store = devbg_store_open (dir, &error);
  g_assert_no_error (error);
  add (store, 1000, "org.a.A", "{m2}"); /* after the others: a range, not the table's end */

  user_s = best_list_time (store, 1000, NULL, 2);
  app_s = best_list_time (store, 1000, "org.a.A", 2);
  g_test_message ("one user's page among 200,000 rows: %.3f ms, one app's: %.3f ms",
                  user_s * 1e3, app_s * 1e3);
  g_assert_cmpfloat (user_s, <, 0.001);
  g_assert_cmpfloat (app_s, <, 0.001);
  g_clear_object (&store);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/consent-store/per-user-app-and-model", test_per_user_app_and_model);
  g_test_add_func ("/consent-store/migrates-from-3", test_migrates_from_3);
  g_test_add_func ("/consent-store/list-reads-own-rows-only", test_list_reads_own_rows_only);
  return g_test_run ();
}
