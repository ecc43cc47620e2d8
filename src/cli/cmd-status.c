/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl status
 */
#include "devbgctl.h"

int
devbgctl_cmd_status (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) status = NULL;
  DevbgClient *client;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  (void) argv;
  if (argc > 1)
    {
      g_printerr ("devbgctl status: takes no arguments\n");
      return 2;
    }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  status = devbg_client_get_status_sync (client, NULL, &error);
  if (status == NULL)
    return devbgctl_fail ("status", error);

  if (ctl->json)
    {
      devbgctl_print_variant_json (status);
      return 0;
    }

  g_variant_iter_init (&iter, status);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autofree char *shown = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                                 ? g_variant_dup_string (value, NULL)
                                 : g_variant_print (value, FALSE);
      g_print ("%-14s %s\n", key, *shown ? shown : "-");
      g_variant_unref (value);
    }
  return 0;
}
