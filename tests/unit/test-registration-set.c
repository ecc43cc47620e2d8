/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An owner's registrations kept in memory (devbg-registration-set.c): store
 * order and paging by cursor, lookup by task ID, removal from the middle;
 * and through the store, that what it answers from memory is what its
 * table holds, before and after a restart.
 */
#include <glib.h>
#include <glib/gstdio.h>

#include "devbg-error.h"
#include "devbg-registration-set.h"
#include "devbg-store.h"

static const DevbgOwner owner = { 1000, "org.a.B" };

static void
record (DevbgRegistrationRecord *reg, guint n, gint64 cursor, char buf[3][64])
{
  g_snprintf (buf[0], 64, "00000000-0000-4000-8000-%012u", n);
  g_snprintf (buf[1], 64, "name %u", n);
  g_snprintf (buf[2], 64, "B.Entry%u", n);
  *reg = (DevbgRegistrationRecord) {
    .task_id = buf[0], .uid = owner.uid, .app_id = (char *) owner.app_id, .name = buf[1],
    .entry_point = buf[2], .trigger = n % 2 ? DEVBG_TRIGGER_SERVICING : DEVBG_TRIGGER_USE,
    .created_us = 100 + n, .cursor = cursor,
  };
}

static gboolean
collect (const DevbgRegistrationRecord *reg, gpointer user_data)
{
  GString *out = user_data;

  g_string_append_printf (out, "%s|%s|%s|%d|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%u|%s;",
                          reg->task_id + 24, reg->name, reg->entry_point, reg->trigger,
                          reg->created_us, reg->cursor, reg->uid, reg->app_id);
  return TRUE;
}

typedef struct {
  GString *out;
  guint    left;
} Limited;

static gboolean
collect_some (const DevbgRegistrationRecord *reg, gpointer user_data)
{
  Limited *limited = user_data;

  g_string_append_printf (limited->out, "%" G_GINT64_FORMAT ",", reg->cursor);
  return --limited->left > 0;
}

static char *
cursors_after (DevbgRegistrationSet *set, gint64 cursor, guint limit)
{
  Limited limited = { g_string_new (""), limit };

  devbg_registration_set_foreach (set, cursor, collect_some, &limited);
  return g_string_free (limited.out, FALSE);
}

static void
test_set (void)
{
  g_autoptr(DevbgRegistrationSet) set = devbg_registration_set_new (&owner);
  g_autoptr(GString) all = g_string_new ("");
  DevbgRegistrationRecord reg, found;
  char buf[3][64];
  char *s;

  /* Positions as SQLite gives them, with a gap; one added out of order. */
  for (guint n = 1; n <= 5; n++)
    {
      record (&reg, n, n == 5 ? 3 : (gint64) n * 2, buf);
      devbg_registration_set_add (set, &reg);
    }
  g_assert_cmpuint (devbg_registration_set_get_size (set), ==, 5);
  devbg_registration_set_foreach (set, 0, collect, all);
  g_assert_cmpstr (all->str, ==,
                   "000000000001|name 1|B.Entry1|1|101|2|1000|org.a.B;"
                   "000000000005|name 5|B.Entry5|1|105|3|1000|org.a.B;"
                   "000000000002|name 2|B.Entry2|0|102|4|1000|org.a.B;"
                   "000000000003|name 3|B.Entry3|1|103|6|1000|org.a.B;"
                   "000000000004|name 4|B.Entry4|0|104|8|1000|org.a.B;");
  s = cursors_after (set, 0, 100);
  g_assert_cmpstr (s, ==, "2,3,4,6,8,");
  g_free (s);
  /* Paging: after a cursor, whether or not it is still there. */
  s = cursors_after (set, 3, 2);
  g_assert_cmpstr (s, ==, "4,6,");
  g_free (s);
  s = cursors_after (set, 5, 100);
  g_assert_cmpstr (s, ==, "6,8,");
  g_free (s);
  s = cursors_after (set, 8, 100);
  g_assert_cmpstr (s, ==, "");
  g_free (s);

  g_assert_true (devbg_registration_set_lookup (set, "00000000-0000-4000-8000-000000000005",
                                                &found));
  g_assert_cmpstr (found.name, ==, "name 5");
  g_assert_cmpstr (found.entry_point, ==, "B.Entry5");
  g_assert_cmpint (found.trigger, ==, DEVBG_TRIGGER_SERVICING);
  g_assert_cmpint (found.cursor, ==, 3);
  g_assert_false (devbg_registration_set_lookup (set, "00000000-0000-4000-8000-000000000009",
                                                 &found));

  /* Removal from the middle, the start and the end. */
  g_assert_true (devbg_registration_set_remove (set, "00000000-0000-4000-8000-000000000002"));
  g_assert_false (devbg_registration_set_remove (set, "00000000-0000-4000-8000-000000000002"));
  g_assert_true (devbg_registration_set_remove (set, "00000000-0000-4000-8000-000000000001"));
  g_assert_true (devbg_registration_set_remove (set, "00000000-0000-4000-8000-000000000004"));
  s = cursors_after (set, 0, 100);
  g_assert_cmpstr (s, ==, "3,6,");
  g_free (s);
  g_assert_cmpuint (devbg_registration_set_get_size (set), ==, 2);
  g_assert_false (devbg_registration_set_lookup (set, "00000000-0000-4000-8000-000000000001",
                                                 &found));
}

/* The packed page: whole records in store order, within the bound but at
 * least one, and where the next page starts. */
static void
test_pack (void)
{
  g_autoptr(DevbgRegistrationSet) set = devbg_registration_set_new (&owner);
  /* "00000000-0000-4000-8000-00000000000N\0name N\0B.EntryN\0use\0": 37 + 7 + 9 + 4 */
  const gsize use_size = 57, servicing_size = 63;
  DevbgRegistrationRecord reg;
  char buf[3][64];
  gint64 last;
  gboolean more;

  {
    g_autoptr(GBytes) empty = devbg_registration_set_pack (set, 0, 1024, &last, &more);
    g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
    g_assert_false (more);
    g_assert_cmpint (last, ==, 0);
  }
  for (guint n = 1; n <= 4; n++)
    {
      record (&reg, n, n * 10, buf);
      devbg_registration_set_add (set, &reg);
    }
  {
    g_autoptr(GBytes) all = devbg_registration_set_pack (set, 0, 1 << 20, &last, &more);
    gsize size;
    const char *data = g_bytes_get_data (all, &size);

    g_assert_cmpuint (size, ==, 2 * use_size + 2 * servicing_size);
    g_assert_false (more);
    g_assert_cmpint (last, ==, 40);
    g_assert_cmpmem (data, use_size + 6,
                     "00000000-0000-4000-8000-000000000001\0name 1\0B.Entry1\0servicing\0",
                     use_size + 6);
  }
  {
    /* Two fit in 125 bytes (63 + 57 = 120), the third does not. */
    g_autoptr(GBytes) two = devbg_registration_set_pack (set, 0, 125, &last, &more);
    g_assert_cmpuint (g_bytes_get_size (two), ==, servicing_size + use_size);
    g_assert_true (more);
    g_assert_cmpint (last, ==, 20);
  }
  {
    /* A bound smaller than one record still gives one. */
    g_autoptr(GBytes) one = devbg_registration_set_pack (set, 20, 1, &last, &more);
    g_assert_cmpuint (g_bytes_get_size (one), ==, servicing_size);
    g_assert_true (more);
    g_assert_cmpint (last, ==, 30);
  }
  {
    g_autoptr(GBytes) rest = devbg_registration_set_pack (set, 30, 1, &last, &more);
    g_assert_cmpuint (g_bytes_get_size (rest), ==, use_size);
    g_assert_false (more);
    g_assert_cmpint (last, ==, 40);
  }
}

static char *
listed (DevbgStore *store, const DevbgOwner *who)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) regs = devbg_store_list_registrations (store, who, 0, 1000, &error);
  GString *out = g_string_new ("");

  g_assert_no_error (error);
  for (guint i = 0; i < regs->len; i++)
    {
      DevbgRegistrationRecord *reg = g_ptr_array_index (regs, i);
      g_string_append_printf (out, "%s,", reg->name);
    }
  return g_string_free (out, FALSE);
}

/* The store answers from memory what its table holds: after adds and
 * removes, for each owner apart, and the same from a reopened store. */
static void
test_store_agrees (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-set-XXXXXX", NULL);
  g_autofree char *before = NULL;
  g_autoptr(GError) error = NULL;
  DevbgOwner other = { 1001, "org.a.B" };
  char buf[3][64];

  for (int round = 0; round < 2; round++)
    {
      g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
      g_autofree char *now = NULL;
      g_autofree char *mine = NULL;
      g_autofree char *theirs = NULL;

      g_assert_no_error (error);
      if (round == 0)
        {
          DevbgRegistrationRecord reg;

          /* The first owner's set is read before the adds, the other's after. */
          g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 0);
          for (guint n = 1; n <= 20; n++)
            {
              record (&reg, n, 0, buf);
              if (n % 4 == 0)
                reg.uid = other.uid;
              g_assert_true (devbg_store_add_registration (store, &reg, &error));
            }
          g_assert_true (devbg_store_remove_registration (store, &owner,
                                                          "00000000-0000-4000-8000-000000000005",
                                                          &error));
          g_assert_false (devbg_store_remove_registration (store, &owner,
                                                           "00000000-0000-4000-8000-000000000004",
                                                           &error));
          g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION);
          g_clear_error (&error);
          g_assert_cmpint (devbg_store_count_registrations (store, &other, &error), ==, 5);
          g_assert_true (devbg_store_remove_registration (store, &other,
                                                          "00000000-0000-4000-8000-000000000004",
                                                          &error));
          g_assert_cmpint (devbg_store_count_registrations (store, NULL, &error), ==, 18);
        }
      mine = listed (store, &owner);
      theirs = listed (store, &other);
      now = g_strconcat (mine, "/", theirs, NULL);
      g_assert_cmpstr (now, ==, "name 1,name 2,name 3,name 6,name 7,name 9,name 10,name 11,"
                                "name 13,name 14,name 15,name 17,name 18,name 19,/"
                                "name 8,name 12,name 16,name 20,");
      g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 14);
      g_assert_null (devbg_store_get_registration (store, &other,
                                                   "00000000-0000-4000-8000-000000000001",
                                                   &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION);
      g_clear_error (&error);
    }
  for (guint i = 0; i < 4; i++)
    {
      static const char *const files[] = { "devbg.db", "devbg.db-wal", "devbg.db-shm",
                                           "devbgd.lock" };
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_unlink (path);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/registration-set/order-paging-removal", test_set);
  g_test_add_func ("/registration-set/pack", test_pack);
  g_test_add_func ("/registration-set/store-agrees", test_store_agrees);
  return g_test_run ();
}
