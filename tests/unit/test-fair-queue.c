/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgFairQueue (src/daemon/devbg-fair-queue.c): owners served in turn,
 * one item each, in the order each pushed its own; at most max_per_owner
 * waiting each; root (owner 0) like any; the main loop serves what waits
 * once nothing of higher priority does; what is never served is dropped.
 */
#include <string.h>

#include "devbg-fair-queue.h"

typedef struct {
  GString *served;
  guint    dropped;
} Log;

static void
serve (gpointer item, gpointer user_data)
{
  Log *log = user_data;

  if (log->served->len > 0)
    g_string_append_c (log->served, ' ');
  g_string_append (log->served, item);
  g_free (item);
}

static void
drop (gpointer item)
{
  g_free (item);
}

/* Pushes @pushes ("owner:item" each; owner a number) in order, then
 * serves everything: the order served, space-separated. */
static char *
served_order (const char *const *pushes, guint max_per_owner, gboolean by_main_loop)
{
  Log log = { g_string_new (NULL), 0 };
  DevbgFairQueue *queue = devbg_fair_queue_new (max_per_owner, serve, drop, &log);

  for (guint i = 0; pushes[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (pushes[i], ":", 2);
      char *item = g_strdup (parts[1]);

      if (!devbg_fair_queue_push (queue, (guint32) g_ascii_strtoull (parts[0], NULL, 10), item))
        {
          g_string_append_printf (log.served, log.served->len > 0 ? " !%s" : "!%s", item);
          g_free (item);
        }
    }
  if (by_main_loop)
    while (devbg_fair_queue_waiting (queue) > 0)
      g_main_context_iteration (NULL, TRUE);
  else
    while (devbg_fair_queue_serve_one (queue))
      ;
  g_assert_false (devbg_fair_queue_serve_one (queue));
  devbg_fair_queue_free (queue);
  return g_string_free (log.served, FALSE);
}

static void
test_order (void)
{
  static const struct {
    const char *pushes[12];
    guint       max;
    const char *served;  /* "!x": x refused when pushed */
  } cases[] = {
    { { "1000:a1", "1000:a2", "1000:a3", "65534:b1", "1:c1", "1:c2" }, 8,
      "a1 b1 c1 a2 c2 a3" },
    /* One owner alone: in its own order. */
    { { "7:x", "7:y", "7:z" }, 8, "x y z" },
    /* Root is an owner like any (its key is not NULL). */
    { { "0:r1", "0:r2", "5:u1" }, 8, "r1 u1 r2" },
    /* At most max waiting each; the refused one is not taken. */
    { { "3:a", "3:b", "3:c", "4:d", "3:e" }, 2, "!c !e a d b" },
    /* An owner that came later, before the first's next. */
    { { "9:a", "9:b", "9:c", "9:d", "8:e" }, 8, "a e b c d" },
    { { NULL }, 8, "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int by_loop = 0; by_loop < 2; by_loop++)
      {
        g_autofree char *got = served_order (cases[i].pushes, cases[i].max, by_loop);

        if (g_strcmp0 (got, cases[i].served) != 0)
          g_error ("case %u (%s): served '%s', expected '%s'", i,
                   by_loop ? "main loop" : "by hand", got, cases[i].served);
      }
}

/* The main loop serves what waits only after what has a higher priority:
 * calls GDBus has read are queued before the first of them is served. */
static gboolean
push_late (gpointer data)
{
  DevbgFairQueue *queue = data;

  g_assert_true (devbg_fair_queue_push (queue, 2, g_strdup ("late")));
  return G_SOURCE_REMOVE;
}

static void
test_higher_priority_first (void)
{
  Log log = { g_string_new (NULL), 0 };
  DevbgFairQueue *queue = devbg_fair_queue_new (8, serve, drop, &log);
  g_autofree char *served = NULL;

  g_assert_true (devbg_fair_queue_push (queue, 1, g_strdup ("a1")));
  g_assert_true (devbg_fair_queue_push (queue, 1, g_strdup ("a2")));
  g_idle_add_full (G_PRIORITY_DEFAULT, push_late, queue, NULL);
  while (devbg_fair_queue_waiting (queue) > 0 || log.served->len == 0)
    g_main_context_iteration (NULL, TRUE);
  devbg_fair_queue_free (queue);
  served = g_string_free (log.served, FALSE);
  g_assert_cmpstr (served, ==, "a1 late a2");
}

static guint drops;

static void
count_drop (gpointer item)
{
  drops++;
  g_free (item);
}

static void
test_free_drops_the_rest (void)
{
  Log log = { g_string_new (NULL), 0 };
  DevbgFairQueue *queue = devbg_fair_queue_new (8, serve, count_drop, &log);

  drops = 0;
  for (guint owner = 0; owner < 3; owner++)
    for (guint i = 0; i < 2; i++)
      g_assert_true (devbg_fair_queue_push (queue, owner, g_strdup ("x")));
  g_assert_cmpuint (devbg_fair_queue_waiting (queue), ==, 6);
  g_assert_true (devbg_fair_queue_serve_one (queue));
  devbg_fair_queue_free (queue);
  g_assert_cmpuint (drops, ==, 5);
  g_string_free (log.served, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fair-queue/order", test_order);
  g_test_add_func ("/fair-queue/higher-priority-first", test_higher_priority_first);
  g_test_add_func ("/fair-queue/free-drops-the-rest", test_free_drops_the_rest);
  return g_test_run ();
}
