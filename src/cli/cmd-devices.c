/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl devices [--watch]
 */
#include "devbgctl.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


/* Whether the calling user could open the device's node itself ("rw",
 * "r", "no"), as its mode and ACLs say; "-" for a device without a node
 * (devbg-sim's, a Bluetooth connection). Tasks get their access from
 * devbgd either way: this tells a vendor whether their own tools can reach
 * the device too. access(2) answers for the real user, which is us. */
static const char *
node_access (GVariant *props)
{
  const char *node = NULL;

  if (!g_variant_lookup (props, "node", "&s", &node) || *node == '\0')
    return "-";
  if (access (node, R_OK | W_OK) == 0)
    return "rw";
  return access (node, R_OK) == 0 ? "r" : "no";
}

static void
add_device_json (JsonBuilder *b, const char *id, GVariant *props)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  g_variant_iter_init (&iter, props);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      json_builder_set_member_name (b, key);
      json_builder_add_value (b, json_gvariant_serialize (value));
      g_variant_unref (value);
    }
  json_builder_set_member_name (b, "access");
  json_builder_add_string_value (b, node_access (props));
  json_builder_end_object (b);
}

static char *
hardware_ids_text (GVariant *props)
{
  g_autofree const char **ids = NULL;

  if (!g_variant_lookup (props, "hardware-ids", "^a&s", &ids))
    return g_strdup ("");
  return g_strjoinv (" ", (char **) ids);
}

#define ROW_FORMAT "%-24s  %-16s  %-8s  %-6s  %-8s  %-24s  %s\n"

static void
print_device (const char *id, GVariant *props)
{
  const char *name = "", *protocol = "", *fw = "", *container = "";
  g_autofree char *hwids = hardware_ids_text (props);
  g_autofree char *short_container = NULL;

  g_variant_lookup (props, "name", "&s", &name);
  g_variant_lookup (props, "protocol", "&s", &protocol);
  g_variant_lookup (props, "firmware-version", "&s", &fw);
  g_variant_lookup (props, "container-id", "&s", &container);
  /* Its first 8 characters (a UUID's first group) tell the functions of
   * one device apart from others'; --json has it whole. */
  short_container = *container ? g_strndup (container, MIN (strcspn (container, "-"), 8))
                               : g_strdup ("-");
  g_print (ROW_FORMAT, id, protocol, *fw ? fw : "-", node_access (props), short_container, name,
           hwids);
}

static int
list_devices (Devbgctl *ctl, DevbgClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = devbg_client_list_devices_sync (client, NULL, &error);

  if (devices == NULL)
    return devbgctl_fail ("devices", error);
  if (ctl->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < devices->len; i++)
        {
          DevbgDeviceInfo *d = g_ptr_array_index (devices, i);
          add_device_json (b, devbg_device_info_get_id (d), devbg_device_info_get_properties (d));
        }
      json_builder_end_array (b);
      devbgctl_print_json (b);
      return 0;
    }
  if (devices->len == 0)
    {
      g_print ("no devices\n");
      return 0;
    }
  g_print (ROW_FORMAT, "ID", "PROTOCOL", "FIRMWARE", "ACCESS", "CONTAINER", "NAME",
           "HARDWARE IDS");
  for (guint i = 0; i < devices->len; i++)
    {
      DevbgDeviceInfo *d = g_ptr_array_index (devices, i);
      print_device (devbg_device_info_get_id (d), devbg_device_info_get_properties (d));
    }
  return 0;
}

/* --watch: one line per event; with --json one compact JSON object a line.
 * @props is NULL for a removal. */
static void
print_event (Devbgctl *ctl, const char *event, const char *id, GVariant *props)
{
  if (ctl->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "event");
      json_builder_add_string_value (b, event);
      json_builder_set_member_name (b, "device");
      if (props != NULL)
        add_device_json (b, id, props);
      else
        json_builder_add_string_value (b, id);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      text = json_generator_to_data (gen, NULL);
      g_print ("%s\n", text);
    }
  else
    {
      g_autofree char *hwids = props ? hardware_ids_text (props) : g_strdup ("");
      g_print ("%-8s %s %s\n", g_str_equal (event, "DeviceAdded") ? "added" :
               g_str_equal (event, "DeviceRemoved") ? "removed" : "changed", id, hwids);
    }
  fflush (stdout);
}

static void
on_added (DevbgClient *client, DevbgDeviceInfo *d, Devbgctl *ctl)
{
  print_event (ctl, "DeviceAdded", devbg_device_info_get_id (d), devbg_device_info_get_properties (d));
}

static void
on_changed (DevbgClient *client, DevbgDeviceInfo *d, Devbgctl *ctl)
{
  print_event (ctl, "DeviceChanged", devbg_device_info_get_id (d),
               devbg_device_info_get_properties (d));
}

static void
on_removed (DevbgClient *client, const char *id, Devbgctl *ctl)
{
  print_event (ctl, "DeviceRemoved", id, NULL);
}

static gboolean
on_quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
on_closed (GDBusConnection *c, gboolean vanished, GError *error, gpointer loop)
{
  g_main_loop_quit (loop);
}

static int
watch_devices (Devbgctl *ctl, DevbgClient *client)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  /* Connected first, then listed: no event falls in between. */
  g_signal_connect (client, "device-added", G_CALLBACK (on_added), ctl);
  g_signal_connect (client, "device-changed", G_CALLBACK (on_changed), ctl);
  g_signal_connect (client, "device-removed", G_CALLBACK (on_removed), ctl);
  if (!ctl->json && list_devices (ctl, client) != 0)
    return 1;
  g_unix_signal_add (SIGINT, on_quit, loop);
  g_unix_signal_add (SIGTERM, on_quit, loop);
  g_signal_connect (devbg_client_get_connection (client), "closed", G_CALLBACK (on_closed), loop);
  g_main_loop_run (loop);
  g_signal_handlers_disconnect_by_data (client, ctl);
  return 0;
}

int
devbgctl_cmd_devices (Devbgctl *ctl, int argc, char **argv)
{
  gboolean watch = FALSE;
  DevbgClient *client;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--watch") == 0 || strcmp (argv[i], "-w") == 0)
      watch = TRUE;
    else if (strcmp (argv[i], "--json") == 0)
      ctl->json = TRUE;
    else
      {
        g_printerr ("devbgctl devices: unknown argument '%s'\n", argv[i]);
        return 2;
      }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  if (watch)
    return watch_devices (ctl, client);
  return list_devices (ctl, client);
}
