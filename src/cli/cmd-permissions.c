/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl permissions [revoke APP_ID [MODEL_ID] [--uid UID]]: the stored
 * use consent you gave (root: everyone's), and taking it back.
 */
#include "devbgctl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
format_time (gint64 us)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);

  return t != NULL ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

static void
print_permission (Devbgctl *ctl, JsonBuilder *json, DevbgPermission *p, guint n)
{
  const char *model_id = devbg_permission_get_model_id (p);
  g_autofree char *when = format_time (devbg_permission_get_created_us (p));

  if (ctl->json)
    {
      json_builder_begin_object (json);
      json_builder_set_member_name (json, "uid");
      json_builder_add_int_value (json, devbg_permission_get_uid (p));
      json_builder_set_member_name (json, "app-id");
      json_builder_add_string_value (json, devbg_permission_get_app_id (p));
      json_builder_set_member_name (json, "model-id");
      json_builder_add_string_value (json, model_id);
      json_builder_set_member_name (json, "created-us");
      json_builder_add_int_value (json, devbg_permission_get_created_us (p));
      json_builder_end_object (json);
      return;
    }
  if (n == 0)
    g_print ("%-6s %-32s %-40s %s\n", "UID", "APP", "DEVICE MODEL", "GIVEN");
  g_print ("%-6u %-32s %-40s %s\n", (unsigned) devbg_permission_get_uid (p),
           devbg_permission_get_app_id (p), *model_id ? model_id : "(none)", when);
}

static int
list_permissions (Devbgctl *ctl, DevbgClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *continuation = NULL;
  g_autoptr(JsonBuilder) json = json_builder_new ();
  guint n = 0;

  json_builder_begin_array (json);
  do
    {
      g_autofree char *next = NULL;
      g_autoptr(GPtrArray) page = devbg_client_list_permissions_sync (client, continuation,
                                                                      &next, NULL, &error);

      if (page == NULL)
        return devbgctl_fail ("permissions", error);
      for (guint i = 0; i < page->len; i++, n++)
        print_permission (ctl, json, g_ptr_array_index (page, i), n);
      g_free (continuation);
      continuation = g_steal_pointer (&next);
    }
  while (*continuation != '\0');
  json_builder_end_array (json);
  if (ctl->json)
    devbgctl_print_json (json);
  else if (n == 0)
    g_print ("No stored consent: every app asks before its first background sync.\n");
  return 0;
}

static int
revoke_permission (DevbgClient *client, int argc, char **argv)
{
  gint64 uid = -1;
  const GOptionEntry entries[] = {
    { "uid", 0, 0, G_OPTION_ARG_INT64, &uid, "The user whose consent it is (root only; "
      "default: yours)", "UID" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("APP_ID [MODEL_ID] - revoke stored consent");
  g_autoptr(GError) error = NULL;
  guint removed = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc < 2 || argc > 3 ||
      uid < -1 || uid > G_MAXUINT32)
    {
      g_printerr ("devbgctl permissions revoke: %s\n",
                  error ? error->message : "takes APP_ID, an optional MODEL_ID and --uid UID");
      return 2;
    }
  /* No model: every model of the app. */
  if (!devbg_client_revoke_permission_sync (client, uid >= 0 ? (guint32) uid : (guint32) getuid (),
                                            argv[1], argc == 3 ? argv[2] : NULL, &removed,
                                            NULL, &error))
    return devbgctl_fail ("permissions revoke", error);
  g_print ("Revoked %u stored consent%s of %s; it asks again before its next background sync\n",
           removed, removed == 1 ? "" : "s", argv[1]);
  return 0;
}

int
devbgctl_cmd_permissions (Devbgctl *ctl, int argc, char **argv)
{
  DevbgClient *client;

  if (argc > 1 && strcmp (argv[1], "revoke") != 0)
    {
      g_printerr ("devbgctl permissions: unknown subcommand '%s' (try revoke)\n", argv[1]);
      return 2;
    }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  if (argc > 1)
    return revoke_permission (client, argc - 1, argv + 1);
  return list_permissions (ctl, client);
}
