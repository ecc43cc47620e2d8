/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl registrations
 */
#include "devbgctl.h"

#include <string.h>

static gint
by_name (gconstpointer a, gconstpointer b)
{
  DevbgRegistration *ra = *(DevbgRegistration *const *) a;
  DevbgRegistration *rb = *(DevbgRegistration *const *) b;
  int c = strcmp (devbg_registration_get_name (ra), devbg_registration_get_name (rb));

  return c != 0 ? c : strcmp (devbg_registration_get_task_id (ra), devbg_registration_get_task_id (rb));
}

int
devbgctl_cmd_registrations (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tasks = NULL;
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  DevbgClient *client;
  GHashTableIter iter;
  gpointer value;

  (void) argv;
  if (argc > 1)
    {
      g_printerr ("devbgctl registrations: takes no arguments\n");
      return 2;
    }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
  if (tasks == NULL)
    return devbgctl_fail ("registrations", error);

  g_hash_table_iter_init (&iter, tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, by_name);

  if (ctl->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < sorted->len; i++)
        {
          DevbgRegistration *reg = g_ptr_array_index (sorted, i);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "task_id");
          json_builder_add_string_value (b, devbg_registration_get_task_id (reg));
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, devbg_registration_get_name (reg));
          json_builder_set_member_name (b, "entry_point");
          json_builder_add_string_value (b, devbg_registration_get_entry_point (reg));
          json_builder_set_member_name (b, "trigger");
          json_builder_add_string_value (b, devbg_trigger_type_to_string (
                                              devbg_registration_get_trigger_type (reg)));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      devbgctl_print_json (b);
      return 0;
    }

  if (sorted->len == 0)
    {
      g_print ("no registrations\n");
      return 0;
    }
  g_print ("%-36s  %-10s  %-24s  %s\n", "TASK ID", "TRIGGER", "NAME", "ENTRY POINT");
  for (guint i = 0; i < sorted->len; i++)
    {
      DevbgRegistration *reg = g_ptr_array_index (sorted, i);
      g_print ("%-36s  %-10s  %-24s  %s\n", devbg_registration_get_task_id (reg),
               devbg_trigger_type_to_string (devbg_registration_get_trigger_type (reg)),
               devbg_registration_get_name (reg), devbg_registration_get_entry_point (reg));
    }
  return 0;
}
