/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgTaskInfo (lib/devbg-task-info.c): the getters and the GObject
 * properties give the same values, from a packed History record and from
 * an a{sv} dictionary; the strings are the object's own copies, or point
 * into a History page that the entries hold.
 */
#include <string.h>

#include "devbg-enum-types.h"
#include "devbg-names.h"
#include "devbg-task-info-private.h"

/* Every string getter agrees with its GObject property. */
static void
check_strings (DevbgTaskInfo *info, const char *const expected[9])
{
  static const char *const names[] = { "instance-id", "task-id", "app-id", "name",
                                       "entry-point", "device-id", "state", "error-message",
                                       "cancel-reason" };
  const char *got[] = {
    devbg_task_info_get_instance_id (info), devbg_task_info_get_task_id (info),
    devbg_task_info_get_app_id (info), devbg_task_info_get_name (info),
    devbg_task_info_get_entry_point (info), devbg_task_info_get_device_id (info),
    devbg_task_info_get_state (info), devbg_task_info_get_error_message (info),
    devbg_task_info_get_cancel_reason (info),
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *property = NULL;

      g_assert_cmpstr (got[i], ==, expected[i]);
      g_object_get (info, names[i], &property, NULL);
      g_assert_cmpstr (property, ==, expected[i]);
    }
}

/* The numbers, the trigger and the flags, by getter and by property. */
static void
check_numbers (DevbgTaskInfo *info, DevbgTriggerType trigger, guint32 uid, gint64 started_us,
               gint64 finished_us, gboolean success, gboolean finished)
{
  DevbgTriggerType trigger_property;
  guint uid_property, progress_property, limit_property;
  gint64 started_property, finished_us_property;
  gboolean success_property, finished_property;

  g_assert_cmpint (devbg_task_info_get_trigger_type (info), ==, trigger);
  g_assert_cmpuint (devbg_task_info_get_uid (info), ==, uid);
  g_assert_cmpint (devbg_task_info_get_started_us (info), ==, started_us);
  g_assert_cmpint (devbg_task_info_get_finished_us (info), ==, finished_us);
  g_assert_cmpint (devbg_task_info_get_success (info), ==, success);
  g_assert_cmpint (devbg_task_info_get_finished (info), ==, finished);
  g_object_get (info, "trigger-type", &trigger_property, "uid", &uid_property, "progress",
                &progress_property, "started-us", &started_property, "limit-s", &limit_property,
                "finished", &finished_property, "finished-us", &finished_us_property,
                "success", &success_property, NULL);
  g_assert_cmpint (trigger_property, ==, trigger);
  g_assert_cmpuint (uid_property, ==, uid);
  g_assert_cmpuint (progress_property, ==, devbg_task_info_get_progress (info));
  g_assert_cmpint (started_property, ==, started_us);
  g_assert_cmpuint (limit_property, ==, devbg_task_info_get_limit_s (info));
  g_assert_cmpint (finished_property, ==, finished);
  g_assert_cmpint (finished_us_property, ==, finished_us);
  g_assert_cmpint (success_property, ==, success);
}

/* From a History record, whose strings point into a page that is gone
 * (here: overwritten) by the time the object is read. */
static void
test_from_history (void)
{
  char page[] = "i-1\0t-1\0org.example.Ä\0\0App.Sync\0band0\0Ünicode ✓ error\0abort";
  const char *const expected[] = { "i-1", "t-1", "org.example.Ä", "", "App.Sync", "band0", "",
                                   "Ünicode ✓ error", "abort" };
  DevbgHistoryRecord record = {
    .instance_id = page, .task_id = page + 4, .app_id = page + 8, .name = page + 23,
    .entry_point = page + 24, .trigger = DEVBG_TRIGGER_SERVICING, .device_id = page + 33,
    .uid = G_MAXUINT32, .started_us = G_MININT64, .finished_us = G_MAXINT64, .success = TRUE,
    .error = page + 39, .cancel_reason = page + 39 + sizeof "Ünicode ✓ error",
  };
  g_autoptr(DevbgTaskInfo) info = devbg_task_info_new_from_history (&record, NULL);
  g_autoptr(GVariant) properties = NULL;

  memset (page, 'X', sizeof page);
  check_strings (info, expected);
  check_numbers (info, DEVBG_TRIGGER_SERVICING, G_MAXUINT32, G_MININT64, G_MAXINT64, TRUE, TRUE);
  g_assert_cmpuint (devbg_task_info_get_progress (info), ==, 0);
  g_assert_cmpuint (devbg_task_info_get_limit_s (info), ==, 0);
  g_object_get (info, "properties", &properties, NULL);
  g_assert_true (properties == devbg_task_info_get_properties (info));
  g_assert_cmpstr (g_variant_get_type_string (properties), ==, "a{sv}");
  g_assert_cmpuint (g_variant_n_children (properties), ==, 13);
}

/* From a History page, as the client reads one: the entries point into
 * the page (repeat marks into the record above) and hold it, so that
 * they read the same once everything else let it go (under ASan and
 * valgrind, a use after free otherwise). */
static void
test_from_history_page (void)
{
  static const char records[] =
    "i-1\0t-1\0org.example.App\0sync\0App.Sync\0use\0band0\0" "1000\0" "1\0" "2\0" "1\0\0\0"
    "i-2\0\xff\0\xff\0\xff\0\xff\0\xff\0band1\0" "1000\0" "3\0" "4\0" "0\0lost\0abort\0";
  const char *const expected[2][9] = {
    { "i-1", "t-1", "org.example.App", "sync", "App.Sync", "band0", "", "", "" },
    { "i-2", "t-1", "org.example.App", "sync", "App.Sync", "band1", "", "lost", "abort" },
  };
  GVariant *page = g_variant_ref_sink (
    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, records, sizeof records - 1, 1));
  g_autoptr(GPtrArray) fields = devbg_records_parse_variant (page, DEVBG_HISTORY_FIELDS, NULL,
                                                             NULL);
  DevbgTaskInfo *infos[2];

  g_assert_nonnull (fields);
  g_assert_cmpuint (fields->len, ==, 2 * DEVBG_HISTORY_FIELDS);
  for (guint i = 0; i < 2; i++)
    {
      DevbgHistoryRecord record;

      g_assert_true (devbg_records_decode_history (
        (const char *const *) &fields->pdata[i * DEVBG_HISTORY_FIELDS], i, &record, NULL));
      infos[i] = devbg_task_info_new_from_history (&record, page);
      /* Pointed at, not copied. */
      g_assert_true (devbg_task_info_get_instance_id (infos[i]) == record.instance_id);
    }
  g_clear_pointer (&fields, g_ptr_array_unref);
  g_variant_unref (page);
  for (guint i = 0; i < 2; i++)
    check_strings (infos[i], expected[i]);
  check_numbers (infos[1], DEVBG_TRIGGER_USE, 1000, 3, 4, FALSE, TRUE);
  g_object_unref (infos[0]);
  /* The second still holds the page. */
  check_strings (infos[1], expected[1]);
  g_object_unref (infos[1]);
}

/* From an a{sv} dictionary: every key read, the strings copied. */
static void
test_from_dictionary (void)
{
  const char *const expected[] = { "i-2", "t-2", "org.example.App", "dock-up", "App.Up",
                                   "dock0", "canceling", "", "user-Ä" };
  g_autoptr(GVariant) dict = g_variant_ref_sink (g_variant_new_parsed (
    "{'instance-id': <'i-2'>, 'task-id': <'t-2'>, 'app-id': <'org.example.App'>, "
    "'name': <'dock-up'>, 'entry-point': <'App.Up'>, 'trigger': <'servicing'>, "
    "'device-id': <'dock0'>, 'state': <'canceling'>, 'uid': <uint32 1000>, "
    "'progress': <uint32 42>, 'started-us': <int64 -5>, 'limit-s': <uint32 600>, "
    "'error': <''>, 'cancel-reason': <'user-Ä'>, 'extra': <'kept'>}"));
  g_autoptr(DevbgTaskInfo) info = devbg_task_info_new (dict);
  g_autoptr(GVariant) properties = NULL;

  check_strings (info, expected);
  check_numbers (info, DEVBG_TRIGGER_SERVICING, 1000, -5, 0, FALSE, FALSE);
  g_assert_cmpuint (devbg_task_info_get_progress (info), ==, 42);
  g_assert_cmpuint (devbg_task_info_get_limit_s (info), ==, 600);
  g_object_get (info, "properties", &properties, NULL);
  g_assert_true (properties == dict);
}

/* Missing and mistyped keys read as empty strings and zeros. */
static void
test_from_dictionary_empty (void)
{
  const char *const empty[] = { "", "", "", "", "", "", "", "", "" };
  g_autoptr(DevbgTaskInfo) none = devbg_task_info_new (g_variant_new_parsed ("@a{sv} {}"));
  g_autoptr(DevbgTaskInfo) mistyped = devbg_task_info_new (g_variant_new_parsed (
    "{'instance-id': <uint32 1>, 'name': <['x']>, 'state': <@ms 'running'>, "
    "'uid': <'1000'>, 'finished-us': <int64 7>, 'success': <true>}"));

  check_strings (none, empty);
  check_numbers (none, DEVBG_TRIGGER_USE, 0, 0, 0, FALSE, FALSE);
  check_strings (mistyped, empty);
  check_numbers (mistyped, DEVBG_TRIGGER_USE, 0, 0, 7, TRUE, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/task-info/from-history", test_from_history);
  g_test_add_func ("/task-info/from-history-page", test_from_history_page);
  g_test_add_func ("/task-info/from-dictionary", test_from_dictionary);
  g_test_add_func ("/task-info/from-dictionary-empty", test_from_dictionary_empty);
  return g_test_run ();
}
