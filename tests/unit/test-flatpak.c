/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pure parts of devbg-flatpak.c: .flatpak-info as Flatpak writes it,
 * user installation templates, and the flatpak run command of a task.
 */
#include <string.h>

#include "devbg-flatpak.h"

#define COMMIT "325a90930becfecd5c608330098f3d7a0b88e8a9867ce55e86c01cbe8dfaabe3"

/* What flatpak 1.14.10 wrote for a sandbox here (shortened). */
static const char *genuine =
  "[Application]\nname=org.test.App\nruntime=runtime/org.test.Platform/x86_64/1\n\n"
  "[Instance]\ninstance-id=2637825710\n"
  "app-path=/var/lib/flatpak/app/org.test.App/x86_64/stable/" COMMIT "/files\n"
  "app-commit=" COMMIT "\nbranch=stable\narch=x86_64\nflatpak-version=1.14.10\n";

static void
test_info_genuine (void)
{
  g_auto(DevbgFlatpakInfo) info = { 0 };
  g_autofree char *why = NULL;

  g_assert_true (devbg_flatpak_info_parse (genuine, strlen (genuine), &info, &why));
  g_assert_null (why);
  g_assert_cmpstr (info.name, ==, "org.test.App");
  g_assert_cmpstr (info.commit, ==, COMMIT);
  g_assert_cmpstr (info.arch, ==, "x86_64");
  g_assert_cmpstr (info.branch, ==, "stable");
  g_assert_true (g_str_has_suffix (info.app_path, COMMIT "/files"));
}

static void
expect_refused (const char *text, const char *why_part)
{
  g_auto(DevbgFlatpakInfo) info = { 0 };
  g_autofree char *why = NULL;

  g_assert_false (devbg_flatpak_info_parse (text, strlen (text), &info, &why));
  g_assert_nonnull (why);
  g_assert_nonnull (strstr (why, why_part));
  g_assert_null (info.name);
}

static void
test_info_refused (void)
{
  /* An older .flatpak-info with no [Instance], or one that was tampered with. */
  expect_refused ("[Application]\nname=org.test.App\n", "no app-path");
  expect_refused ("garbage", "not a key file");
  expect_refused ("[Application]\nname=bad\n", "no valid app ID");
  expect_refused ("[Application]\nname=org.test.App\n[Instance]\napp-path=/x/files\n"
                  "app-commit=../../etc\narch=x86_64\nbranch=stable\n", "no valid app-commit");
  expect_refused ("[Application]\nname=org.test.App\n[Instance]\napp-path=/x/files\n"
                  "app-commit=" COMMIT "\narch=../..\nbranch=stable\n", "no valid arch");
  expect_refused ("[Application]\nname=org.test.App\n[Instance]\napp-path=rel/files\n"
                  "app-commit=" COMMIT "\narch=x86_64\nbranch=stable\n", "no app-path");
}

static void
test_ref_parts (void)
{
  g_assert_true (devbg_flatpak_commit_is_valid (COMMIT));
  g_assert_false (devbg_flatpak_commit_is_valid ("325A90930BECFECD5C608330098F3D7A0B88E8A9867CE55E86C01CBE8DFAABE3"));
  g_assert_false (devbg_flatpak_commit_is_valid ("abc"));
  g_assert_false (devbg_flatpak_commit_is_valid (NULL));
  g_assert_true (devbg_flatpak_ref_part_is_valid ("stable"));
  g_assert_true (devbg_flatpak_ref_part_is_valid ("3.38"));
  g_assert_false (devbg_flatpak_ref_part_is_valid (".."));
  g_assert_false (devbg_flatpak_ref_part_is_valid ("a/b"));
  g_assert_false (devbg_flatpak_ref_part_is_valid (""));
}

static void
test_user_dir (void)
{
  g_autofree char *a = devbg_flatpak_expand_user_dir ("%h/.local/share/flatpak", "/home/u", 1000);
  g_autofree char *b = devbg_flatpak_expand_user_dir ("/srv/fp/%u/100%%", NULL, 1000);

  g_assert_cmpstr (a, ==, "/home/u/.local/share/flatpak");
  g_assert_cmpstr (b, ==, "/srv/fp/1000/100%");
  /* No home: no installation, rather than one relative to somewhere. */
  g_assert_null (devbg_flatpak_expand_user_dir ("%h/.local/share/flatpak", NULL, 1000));
  g_assert_null (devbg_flatpak_expand_user_dir ("/x/%s", "/home/u", 1000));
  g_assert_null (devbg_flatpak_expand_user_dir ("relative/%u", "/home/u", 1000));
}

static void
test_task_command (void)
{
  DevbgFlatpakOrigin o = { .installation = (char *) "/var/lib/flatpak", .user = FALSE,
                           .app_id = (char *) "org.test.App", .arch = (char *) "x86_64",
                           .branch = (char *) "stable", .commit = (char *) COMMIT };
  g_auto(GStrv) argv = devbg_flatpak_task_argv (&o, "/app/bin/task", "Test.Idle");
  g_auto(GStrv) env = devbg_flatpak_task_environ (&o, "/home/u");
  g_autofree char *joined = g_strjoinv (" ", argv);

  g_assert_cmpstr (joined, ==, DEVBG_FLATPAK_BINARY " run --system --no-a11y-bus --arch=x86_64 "
                   "--branch=stable --commit=" COMMIT " --command=/app/bin/task org.test.App "
                   "Test.Idle");
  g_assert_cmpstr (env[0], ==, "HOME=/home/u");
  g_assert_cmpstr (env[1], ==, "FLATPAK_SYSTEM_DIR=/var/lib/flatpak");
  g_assert_null (env[2]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/flatpak/info/genuine", test_info_genuine);
  g_test_add_func ("/flatpak/info/refused", test_info_refused);
  g_test_add_func ("/flatpak/ref-parts", test_ref_parts);
  g_test_add_func ("/flatpak/user-dir", test_user_dir);
  g_test_add_func ("/flatpak/task-command", test_task_command);
  return g_test_run ();
}
