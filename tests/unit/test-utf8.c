/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbg_utf8_excerpt(): what a message quotes of a caller's text.
 */
#include "devbg-utf8.h"

#include <string.h>

static void
test_excerpt_table (void)
{
  static const struct {
    const char *text;
    gsize       max;
    const char *expected;
  } cases[] = {
    { "", 8, "" },
    { "short", 32, "short" },
    { "exactly8", 8, "exactly8" },
    { "abcdefghij", 4, "abcd" },
    { "abcdefghij", 0, "" },
    /* é is two bytes (c3 a9): a cut inside it goes back before it. */
    { "a\xc3\xa9\xc3\xa9", 2, "a" },
    { "a\xc3\xa9\xc3\xa9", 3, "a\xc3\xa9" },
    { "a\xc3\xa9\xc3\xa9", 4, "a\xc3\xa9" },
    { "a\xc3\xa9\xc3\xa9", 5, "a\xc3\xa9\xc3\xa9" },
    /* Three and four bytes: 𝄞 (f0 9d 84 9e), € (e2 82 ac). */
    { "\xf0\x9d\x84\x9e!", 3, "" },
    { "\xf0\x9d\x84\x9e!", 4, "\xf0\x9d\x84\x9e" },
    { "x\xe2\x82\xac", 3, "x" },
    /* Not UTF-8 from a byte on: the text up to it, whatever the bound. */
    { "ok\xffmore", 32, "ok" },
    { "ok\xc3", 32, "ok" },
    { "\x80", 8, "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *excerpt = devbg_utf8_excerpt (cases[i].text, cases[i].max);

      g_assert_cmpstr (excerpt, ==, cases[i].expected);
      g_assert_true (g_utf8_validate (excerpt, -1, NULL));
      g_assert_cmpuint (strlen (excerpt), <=, cases[i].max);
    }
}

/* Every bound over a text of mixed widths: valid, within the bound, and
 * as long as a character boundary lets it be. */
static void
test_excerpt_every_bound (void)
{
  const char *text = "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e" "b";
  gsize length = strlen (text);

  for (gsize max = 0; max <= length + 2; max++)
    {
      g_autofree char *excerpt = devbg_utf8_excerpt (text, max);
      gsize n = strlen (excerpt);

      g_assert_true (g_utf8_validate (excerpt, -1, NULL));
      g_assert_cmpuint (n, <=, max);
      g_assert_true (strncmp (excerpt, text, n) == 0);
      /* The next character would not have fit. */
      if (n < length)
        g_assert_cmpuint ((gsize) (g_utf8_next_char (text + n) - text), >, max);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/utf8/excerpt-table", test_excerpt_table);
  g_test_add_func ("/utf8/excerpt-every-bound", test_excerpt_every_bound);
  return g_test_run ();
}
