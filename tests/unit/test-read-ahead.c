/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pages devbgd packs ahead (src/daemon/devbg-read-ahead.c): served
 * once, only for their key and only at the generation they were packed
 * at; bounded in number and in time; forgotten with their caller.
 */
#include <glib.h>
#include <string.h>

#include "devbg-read-ahead.h"

static void
put (DevbgReadAhead *ra, const char *key, guint64 generation, const char *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text) + 1);
  DevbgReadAheadPage page = { bytes, TRUE, 42 };

  devbg_read_ahead_put (ra, key, generation, &page);
}

/* The page's text, or NULL when none was served. */
static char *
take (DevbgReadAhead *ra, const char *key, guint64 generation)
{
  DevbgReadAheadPage page;
  char *text;

  if (!devbg_read_ahead_take (ra, key, generation, &page))
    return NULL;
  g_assert_true (page.more);
  g_assert_cmpint (page.last_cursor, ==, 42);
  text = g_strdup (g_bytes_get_data (page.bytes, NULL));
  g_bytes_unref (page.bytes);
  return text;
}

static void
test_served_once_for_its_key_and_generation (void)
{
  g_autoptr(DevbgReadAhead) ra = devbg_read_ahead_new (4, 1024, 60000);
  g_autofree char *served = NULL;
  g_autofree char *again = NULL;
  g_autofree char *other = NULL;
  g_autofree char *stale = NULL;
  g_autofree char *after_stale = NULL;

  put (ra, ":1.5\nevents\n0\n7", 3, "page");
  other = take (ra, ":1.6\nevents\n0\n7", 3);  /* another caller */
  g_assert_null (other);
  served = take (ra, ":1.5\nevents\n0\n7", 3);
  g_assert_cmpstr (served, ==, "page");
  again = take (ra, ":1.5\nevents\n0\n7", 3);   /* once only */
  g_assert_null (again);
  g_assert_cmpuint (devbg_read_ahead_count (ra), ==, 0);

  /* A row changed since: not served, and dropped. */
  put (ra, ":1.5\nevents\n0\n9", 3, "old");
  stale = take (ra, ":1.5\nevents\n0\n9", 4);
  g_assert_null (stale);
  after_stale = take (ra, ":1.5\nevents\n0\n9", 3);
  g_assert_null (after_stale);
  g_assert_cmpuint (devbg_read_ahead_count (ra), ==, 0);
}

static void
test_bounded_and_forgotten (void)
{
  g_autoptr(DevbgReadAhead) ra = devbg_read_ahead_new (2, 1024, 60000);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *replaced = NULL;

  put (ra, ":1.1\nevents\n0\n1", 1, "a");
  put (ra, ":1.2\nevents\n0\n1", 1, "b");
  put (ra, ":1.3\nevents\n0\n1", 1, "c"); /* the oldest, :1.1's, goes */
  g_assert_cmpuint (devbg_read_ahead_count (ra), ==, 2);
  first = take (ra, ":1.1\nevents\n0\n1", 1);
  g_assert_null (first);
  /* The same key again replaces its page. */
  put (ra, ":1.2\nevents\n0\n1", 1, "b2");
  g_assert_cmpuint (devbg_read_ahead_count (ra), ==, 2);
  replaced = take (ra, ":1.2\nevents\n0\n1", 1);
  g_assert_cmpstr (replaced, ==, "b2");
  /* A caller that left: its pages go, and only its (":1.3" is no prefix
   * of ":1.30"'s key). */
  put (ra, ":1.30\nhistory\n100\n5", 1, "d");
  devbg_read_ahead_forget_sender (ra, ":1.3");
  g_assert_cmpuint (devbg_read_ahead_count (ra), ==, 1);
  second = take (ra, ":1.30\nhistory\n100\n5", 1);
  g_assert_cmpstr (second, ==, "d");

  /* Bounded in bytes too: a page of 6 bytes where 8 are allowed pushes
   * out what is there; one larger than them all is not kept. */
  {
    g_autoptr(DevbgReadAhead) small = devbg_read_ahead_new (4, 8, 60000);
    g_autofree char *big = NULL;
    g_autofree char *kept = NULL;

    put (small, ":1.1\nevents\n0\n1", 1, "ab");      /* 3 bytes */
    put (small, ":1.2\nevents\n0\n1", 1, "cd");      /* 6 in all */
    put (small, ":1.3\nevents\n0\n1", 1, "efghi");   /* 6: both go */
    g_assert_cmpuint (devbg_read_ahead_count (small), ==, 1);
    put (small, ":1.4\nevents\n0\n1", 1, "123456789"); /* 10: never */
    big = take (small, ":1.4\nevents\n0\n1", 1);
    g_assert_null (big);
    kept = take (small, ":1.3\nevents\n0\n1", 1);
    g_assert_cmpstr (kept, ==, "efghi");
  }

  /* None kept at all. */
  {
    g_autoptr(DevbgReadAhead) none = devbg_read_ahead_new (0, 1024, 60000);

    put (none, ":1.1\nevents\n0\n1", 1, "a");
    g_assert_cmpuint (devbg_read_ahead_count (none), ==, 0);
  }
}

static gboolean
on_quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @ra keeps @count pages, for 5 s at most. */
static void
wait_for_count (DevbgReadAhead *ra, guint count)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (devbg_read_ahead_count (ra) != count && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (devbg_read_ahead_count (ra), ==, count);
}

/* Pages go oldest first, once kept for keep_ms, with nobody asking. */
static void
test_expires (void)
{
  g_autoptr(DevbgReadAhead) ra = devbg_read_ahead_new (4, 1024, 500);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *second = NULL;
  gint64 start = g_get_monotonic_time ();

  put (ra, ":1.1\nevents\n0\n1", 1, "a");
  g_timeout_add (300, on_quit, loop);
  g_main_loop_run (loop);
  put (ra, ":1.2\nevents\n0\n1", 1, "b");
  wait_for_count (ra, 1);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 500 * 1000);
  second = take (ra, ":1.2\nevents\n0\n1", 1);
  g_assert_cmpstr (second, ==, "b");
  put (ra, ":1.3\nevents\n0\n1", 1, "c");
  wait_for_count (ra, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/read-ahead/served-once-for-its-key-and-generation",
                   test_served_once_for_its_key_and_generation);
  g_test_add_func ("/read-ahead/bounded-and-forgotten", test_bounded_and_forgotten);
  g_test_add_func ("/read-ahead/expires", test_expires);
  return g_test_run ();
}
