/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgd's limit on lines logged per caller (devbg-log-limit.h).
 */
#include "devbg-log-limit.h"

#define S G_USEC_PER_SEC

/* One line asked for, and what the limit answers. */
typedef struct {
  const char *key;
  gint64      now_us;
  gboolean    allowed;
  guint       left_out; /* when allowed */
} Step;

static void
run_steps (DevbgLogLimit *limit, const Step *steps, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      guint left_out = 12345;
      gboolean allowed = devbg_log_limit_allow (limit, steps[i].key, steps[i].now_us, &left_out);

      if (allowed != steps[i].allowed || (allowed && left_out != steps[i].left_out))
        g_error ("step %zu (%s at %" G_GINT64_FORMAT "): allowed %d left out %u, expected %d %u",
                 i, steps[i].key, steps[i].now_us, allowed, allowed ? left_out : 0,
                 steps[i].allowed, steps[i].left_out);
    }
}

static void
test_burst_then_quiet (void)
{
  static const Step steps[] = {
    { "a", 0, TRUE, 0 },
    { "a", 1, TRUE, 0 },
    { "a", 2, TRUE, 0 },
    { "a", 3, FALSE, 0 },         /* the burst (3) is spent */
    { "a", 4, FALSE, 0 },
    { "b", 5, TRUE, 0 },          /* another key has its own */
    { "a", 10 * S - 1, FALSE, 0 },
    { "a", 10 * S, TRUE, 3 },     /* a new interval says what was left out */
    { "a", 10 * S + 1, TRUE, 0 },
  };
  g_autoptr(DevbgLogLimit) limit = devbg_log_limit_new (3, 10 * S, 16);

  run_steps (limit, steps, G_N_ELEMENTS (steps));
}

static void
test_keys_are_bounded (void)
{
  g_autoptr(DevbgLogLimit) limit = devbg_log_limit_new (1, 10 * S, 2);
  guint left_out;

  g_assert_true (devbg_log_limit_allow (limit, "a", 0, &left_out));
  g_assert_false (devbg_log_limit_allow (limit, "a", 1, &left_out));
  g_assert_true (devbg_log_limit_allow (limit, "b", 2, &left_out));
  /* Full: a third key makes room by forgetting the oldest ("a"), which
   * then starts afresh. */
  g_assert_true (devbg_log_limit_allow (limit, "c", 3, &left_out));
  g_assert_true (devbg_log_limit_allow (limit, "a", 4, &left_out));
  g_assert_cmpuint (left_out, ==, 0);
  /* A key whose interval is over goes before one in its interval. */
  g_assert_true (devbg_log_limit_allow (limit, "d", 10 * S + 3, &left_out));
  g_assert_false (devbg_log_limit_allow (limit, "a", 10 * S + 3, &left_out));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log-limit/burst-then-quiet", test_burst_then_quiet);
  g_test_add_func ("/log-limit/keys-are-bounded", test_keys_are_bounded);
  return g_test_run ();
}
