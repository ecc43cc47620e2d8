/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pure parts of identity (process stamps, user namespace maps) and the
 * manifest rules that keep identity unambiguous: conflicting claims and
 * interpreters refused at load.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "devbg-identity.h"
#include "devbg-manifest.h"

static void
test_start_time (void)
{
  guint64 t = 0;
  /* A command name with spaces and ')' must not shift the fields. */
  const char *stat_text =
    "4242 (evil) 1 2 3 (x) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
    "987654 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";

  g_assert_true (devbg_identity_start_time_from_stat (stat_text, &t));
  g_assert_cmpuint (t, ==, 987654);
  g_assert_true (devbg_identity_start_time_from_stat (
    "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 17 1000 200", &t));
  g_assert_cmpuint (t, ==, 17);
  g_assert_false (devbg_identity_start_time_from_stat ("1 (init) S 0 1", &t));
  g_assert_false (devbg_identity_start_time_from_stat ("no parenthesis", &t));
  g_assert_false (devbg_identity_start_time_from_stat (NULL, &t));
}

static void
test_uid_inside (void)
{
  /* The initial namespace; unshare -r (root inside); Flatpak (the user
   * keeps its uid). */
  g_assert_cmpuint (devbg_identity_uid_inside ("         0          0 4294967295\n", 1000), ==, 1000);
  g_assert_cmpuint (devbg_identity_uid_inside ("         0      65534          1\n", 65534), ==, 0);
  g_assert_cmpuint (devbg_identity_uid_inside ("      1000       1000          1\n", 1000), ==, 1000);
  g_assert_cmpuint (devbg_identity_uid_inside ("0 100000 65536\n1000 1000 1\n", 1000), ==, 1000);
  g_assert_cmpuint (devbg_identity_uid_inside ("0 100000 65536\n", 100005), ==, 5);
  g_assert_cmpuint (devbg_identity_uid_inside ("0 100000 65536\n", 1000), ==, G_MAXUINT32);
  g_assert_cmpuint (devbg_identity_uid_inside ("", 0), ==, G_MAXUINT32);
  g_assert_cmpuint (devbg_identity_uid_inside ("garbage\n", 0), ==, G_MAXUINT32);
}

static void
test_interpreters (void)
{
  const char *const shells[] = { "/usr/bin/rbash", "/opt/shells/mysh", NULL };
  const struct {
    const char *path;
    gboolean    interpreter;
  } cases[] = {
    { "/usr/bin/python3", TRUE },
    { "/usr/bin/python3.11", TRUE },
    { "/usr/bin/pypy3", TRUE },
    { "/usr/bin/perl5.36.0", TRUE },
    { "/usr/bin/node", TRUE },
    { "/usr/lib/jvm/java-17/bin/java", TRUE },
    { "/usr/bin/guile-3.0", TRUE },
    { "/usr/bin/env", TRUE },
    { "/bin/sh", TRUE },
    { "/usr/bin/dash", TRUE },
    { "/usr/bin/busybox", TRUE },
    { "/usr/bin/qemu-x86_64", TRUE },
    { "/lib64/ld-linux-x86-64.so.2", TRUE },
    { "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", TRUE },
    { "/usr/bin/rbash", TRUE },       /* by /etc/shells */
    { "/opt/shells/mysh", TRUE },
    { "/usr/bin/org.example.App", FALSE },
    { "/usr/bin/pythonic-tool", FALSE },
    { "/usr/bin/app2", FALSE },
    { "/opt/nodeapp/bin/nodeapp", FALSE },
    { "/usr/bin/shotwell", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *why = NULL;
      gboolean got = devbg_executable_is_interpreter (cases[i].path, shells, &why);

      g_assert_cmpint (got, ==, cases[i].interpreter);
      if (got)
        g_assert_true (strstr (why, cases[i].path) != NULL);
    }
  g_assert_false (devbg_executable_is_interpreter (NULL, shells, NULL));
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static char *
manifest (const char *app_id, const char *exe)
{
  return g_strdup_printf ("<Application Id=\"%s\" Executable=\"%s\"><Extensions>"
                          "<Extension Category=\"windows.backgroundTasks\" EntryPoint=\"X.Y\">"
                          "<BackgroundTasks><Task Type=\"deviceUse\"/></BackgroundTasks>"
                          "</Extension></Extensions></Application>", app_id, exe);
}

static gboolean
problem_has (GPtrArray *problems, const char *a, const char *b)
{
  for (guint i = 0; i < problems->len; i++)
    {
      const char *p = g_ptr_array_index (problems, i);
      if (strstr (p, a) != NULL && (b == NULL || strstr (p, b) != NULL))
        return TRUE;
    }
  return FALSE;
}

static void
test_manifest_conflicts (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-manifests-XXXXXX", NULL);
  g_autofree char *dir2 = g_dir_make_tmp ("devbg-manifests-XXXXXX", NULL);
  g_autofree char *shells = g_build_filename (dir2, "shells", NULL);
  const char *dirs[] = { dir, dir2, NULL };
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) apps = NULL;
  g_autofree char *a = manifest ("org.example.A", "/opt/same/app");
  g_autofree char *b = manifest ("org.example.B", "/opt/same/app");
  g_autofree char *c1 = manifest ("org.example.C", "/opt/c/one");
  g_autofree char *c2 = manifest ("org.example.C", "/opt/c/two");
  g_autofree char *d = manifest ("org.example.D", "/opt/d/app");
  g_autofree char *s = manifest ("org.example.S", "/opt/shells/mysh");
  g_autofree char *py = manifest ("org.example.Py", "/usr/bin/python3");

  write_file (dir, "a.xml", a);
  write_file (dir, "b.xml", b);
  write_file (dir, "c1.xml", c1);
  write_file (dir2, "c2.xml", c2); /* a duplicate across directories too */
  write_file (dir, "d.xml", d);
  write_file (dir, "s.xml", s);
  write_file (dir, "py.xml", py);
  write_file (dir2, "shells", "# /etc/shells\n/opt/shells/mysh\n");

  apps = devbg_manifests_load_full (dirs, shells, problems);
  g_assert_cmpuint (g_hash_table_size (apps), ==, 1);
  g_assert_true (g_hash_table_contains (apps, "org.example.D"));
  /* Each refused file is named, with the other side of its conflict. */
  g_assert_true (problem_has (problems, "a.xml: app org.example.A claims Executable /opt/same/app", "b.xml (app org.example.B)"));
  g_assert_true (problem_has (problems, "b.xml: app org.example.B claims Executable /opt/same/app", "a.xml (app org.example.A)"));
  g_assert_true (problem_has (problems, "c1.xml: app ID org.example.C is also declared by", "c2.xml"));
  g_assert_true (problem_has (problems, "c2.xml: app ID org.example.C is also declared by", "c1.xml"));
  g_assert_true (problem_has (problems, "s.xml: app org.example.S names Executable /opt/shells/mysh", "listed in /etc/shells"));
  g_assert_true (problem_has (problems, "py.xml: app org.example.Py names Executable /usr/bin/python3", "interpreter"));
  g_assert_cmpuint (problems->len, ==, 6);

  for (const char *const *dd = dirs; *dd != NULL; dd++)
    {
      g_autoptr(GDir) gd = g_dir_open (*dd, 0, NULL);
      const char *name;
      while ((name = g_dir_read_name (gd)) != NULL)
        {
          g_autofree char *path = g_build_filename (*dd, name, NULL);
          g_unlink (path);
        }
      g_rmdir (*dd);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/identity/start-time", test_start_time);
  g_test_add_func ("/identity/uid-inside", test_uid_inside);
  g_test_add_func ("/manifest/interpreters", test_interpreters);
  g_test_add_func ("/manifest/conflicts", test_manifest_conflicts);
  return g_test_run ();
}
